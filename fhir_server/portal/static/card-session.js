// A session opened with the CPx card lasts while the card is in the reader: the desk's agent
// says when it leaves, and the page logs out (docs/decisions/0012-staff-portal.md).
(function () {
  "use strict";
  var logout = document.getElementById("deconnexion");
  if (!logout || !logout.dataset.agent || !window.EventSource) { return; }
  var events = new EventSource(logout.dataset.agent + "/events");
  events.addEventListener("card", function (event) {
    var card = JSON.parse(event.data);
    if (!card.present || !card.session) {
      events.close();
      var body = new URLSearchParams(new FormData(logout));
      fetch("/deconnexion", { method: "POST", credentials: "same-origin", body: body })
        .finally(function () { window.location.assign("/connexion?carte-retiree=1"); });
    }
  });
})();
