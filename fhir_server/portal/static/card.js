// The CPx card login (docs/decisions/0012-staff-portal.md): the page asks the desk's card agent
// (loopback) about the card, sends it the portal's challenge and the PIN typed here, then posts
// the agent's answer (certificate and signature, never the PIN) back to the portal.
(function () {
  "use strict";
  var box = document.getElementById("carte");
  if (!box) { return; }
  var agent = box.dataset.agent;
  var csrf = box.dataset.csrf;
  var state = document.getElementById("carte-etat");
  var form = document.getElementById("carte-form");
  var pin = document.getElementById("carte-pin");
  var error = document.getElementById("carte-erreur");
  var NO_AGENT = "Agent de carte non détecté sur ce poste : lancez-le (cdr card agent), " +
    "ou connectez-vous avec Pro Santé Connect.";

  function describe(card) {
    var holder = card.holder;
    var text = "Carte " + holder.card_type + " de " + holder.given + " " + holder.surname +
      " (" + holder.profession + ") dans « " + card.reader + " ».";
    if (typeof card.pin_tries_left === "number") {
      text += card.pin_tries_left > 1
        ? " " + card.pin_tries_left + " essais de code PIN restants."
        : " Dernier essai de code PIN avant blocage.";
    }
    return text;
  }

  function refresh() {
    return fetch(agent + "/card").then(function (response) {
      return response.json();
    }).then(function (card) {
      if (!card.present) {
        state.textContent = card.message || "Insérez votre carte dans le lecteur.";
        form.hidden = true;
        return;
      }
      state.textContent = describe(card);
      form.hidden = card.pin_tries_left === 0;
    }).catch(function () {
      state.textContent = NO_AGENT;
      form.hidden = true;
    });
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    error.textContent = "";
    var typed = pin.value;
    pin.value = "";
    fetch("/connexion/carte/defi", { credentials: "same-origin" }).then(function (response) {
      return response.json();
    }).then(function (asked) {
      return fetch(agent + "/login", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ challenge: asked.challenge, pin: typed })
      });
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) { throw new Error(answer.message); }
        return post("/connexion/carte", { csrf: csrf, answer: answer });
      });
    }).then(function (response) {
      return response.json().then(function (done) {
        if (!response.ok) { throw new Error(done.message); }
        window.location.assign(done.redirect);
      });
    }).catch(function (failure) {
      error.textContent = failure instanceof TypeError ? NO_AGENT : failure.message;
      refresh().then(function () { if (!form.hidden) { pin.focus(); } });
    });
  });

  refresh();
})();
