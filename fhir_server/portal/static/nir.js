// Live NIR check while typing: shows the expected key (97 - body mod 97, Corsica 2A/2B read as
// 19/18). Only a preview: the server checks the NIR again and is the authority.
(function () {
  "use strict";
  var input = document.getElementById("nir");
  var help = document.getElementById("nir-aide");
  if (!input || !help || typeof BigInt === "undefined") { return; }
  function key(body) {
    var digits = body.slice(0, 5) + body.slice(5, 7).replace("2A", "19").replace("2B", "18") +
      body.slice(7);
    if (!/^\d{13}$/.test(digits)) { return null; }
    var k = 97n - (BigInt(digits) % 97n);
    return (k < 10n ? "0" : "") + k.toString();
  }
  // The first checks of rights/identifiers.py, for a message while typing.
  function bodyProblem(body) {
    if (!/^[1-8]/.test(body)) {
      return "Le NIR commence par le sexe (1 à 8) et ne contient que des chiffres " +
        "(2A ou 2B pour un département de Corse).";
    }
    if (/^[1-4]/.test(body)) {
      var month = parseInt(body.slice(3, 5), 10);
      if (!(month >= 1 && month <= 12) && month !== 20 && !(month >= 30 && month <= 42) &&
          !(month >= 50)) {
        return "Le mois de naissance (4e et 5e caractères) n'existe pas.";
      }
      if (body.slice(5, 7) === "00" || body.slice(5, 7) === "20") {
        return "Le département de naissance (6e et 7e caractères) n'existe pas.";
      }
    }
    return null;
  }
  function update() {
    var value = input.value.replace(/\s/g, "").toUpperCase();
    if (value.length < 13) {
      help.textContent = value.length + " caractère(s) sur 13, puis la clé (2)";
      return;
    }
    var expected = key(value.slice(0, 13));
    var problem = bodyProblem(value.slice(0, 13));
    if (problem !== null) {
      help.textContent = problem;
    } else if (expected === null) {
      help.textContent = "Le NIR ne contient que des chiffres (2A/2B en Corse)";
    } else if (value.length === 13) {
      help.textContent = "Clé attendue : " + expected;
    } else if (value.slice(13) === expected) {
      help.textContent = "Clé " + expected + " correcte";
    } else {
      help.textContent = "Clé " + value.slice(13) + " fausse : la clé attendue est " + expected;
    }
  }
  input.addEventListener("input", update);
})();
