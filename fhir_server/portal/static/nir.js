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
  function update() {
    var value = input.value.replace(/\s/g, "").toUpperCase();
    if (value.length < 13) {
      help.textContent = value.length + " caractère(s) sur 13, puis la clé (2)";
      return;
    }
    var expected = key(value.slice(0, 13));
    if (expected === null) {
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
