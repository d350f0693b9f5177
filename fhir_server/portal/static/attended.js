// Attended mode (docs/decisions/0012-staff-portal.md): in a card session, the consultation is
// signed by the card before it is sent. The portal gives the assertion to sign, the desk's
// agent has the card sign it with its signature key, and the form goes with both.
(function () {
  "use strict";
  var form = document.getElementById("consultation-signee");
  if (!form) { return; }
  var agent = form.dataset.agent;
  var error = document.getElementById("signature-erreur");

  function json(response) {
    return response.json().then(function (body) {
      if (!response.ok) { throw new Error(body.message); }
      return body;
    });
  }

  function base64url(text) {
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  form.addEventListener("submit", function (event) {
    if (form.dataset.signed === "oui") { return; }
    event.preventDefault();
    error.textContent = "";
    var signingInput = "";
    fetch(agent + "/card").then(json).then(function (card) {
      if (!card.session) {
        throw new Error("La carte n'est plus dans le lecteur : reconnectez-vous avec votre carte.");
      }
      return fetch("/consultation/assertion", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          csrf: form.elements.csrf.value,
          certificate: card.signature_certificate
        })
      }).then(json);
    }).then(function (issued) {
      signingInput = issued.signing_input;
      return fetch(agent + "/sign", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ data: base64url(signingInput) })
      }).then(json);
    }).then(function (signed) {
      form.elements.assertion_input.value = signingInput;
      form.elements.assertion_signature.value = signed.signature;
      form.dataset.signed = "oui";
      form.submit();
    }).catch(function (failure) {
      error.textContent = failure instanceof TypeError
        ? "L'agent de carte ne répond pas : la consultation n'a pas été signée."
        : failure.message;
    });
  });
})();
