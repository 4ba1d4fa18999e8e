// The dashboard's only script. Inside Telegram: tell the app the page is ready, and on the
// Mini App's first page send Telegram's signed launch data to the server for a session.
(function () {
  "use strict";
  var tg = window.Telegram && window.Telegram.WebApp;
  if (tg) {
    tg.ready();
    if (tg.expand) tg.expand();
  }
  var status = document.getElementById("status");
  if (!status || !status.dataset.session) return;
  var data = tg && tg.initData;
  if (!data) {
    // Telegram puts the data in the URL's fragment; its script reads it from there too.
    var found = /(?:^#|&)tgWebAppData=([^&]*)/.exec(window.location.hash);
    if (found) data = decodeURIComponent(found[1]);
  }
  if (!data) {
    status.textContent = "Open this page from the bot's menu button in Telegram, or send /dashboard to the bot for a login link.";
    return;
  }
  var body = new URLSearchParams();
  body.set("init_data", data);
  fetch(status.dataset.session, { method: "POST", body: body, credentials: "same-origin" })
    .then(function (answer) {
      return answer.json().then(function (reply) { return { ok: answer.ok, reply: reply }; });
    })
    .then(function (result) {
      if (result.ok) window.location.replace(result.reply.next);
      else status.textContent = result.reply.error + ".";
    })
    .catch(function () {
      status.textContent = "The dashboard could not be reached. Close the Mini App and open it again.";
    });
})();
