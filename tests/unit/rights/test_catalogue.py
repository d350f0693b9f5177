from __future__ import annotations

import pytest

from rights.catalogue import RegimeCatalogue, default_catalogue
from rights.errors import ConfigError, UnknownRegimeError
from rights.identifiers import NirKind

SEED_REGIMES = {
    "CNAM", "MSA", "CNMSS", "CAMIEG", "MGP", "CRPCEN", "ENIM", "INTERIALE", "CANSSM",
    "CAVIMAC", "MAGE", "MGEN", "CPRPF", "CCAS RATP", "MAEE", "Assemblée nationale", "Sénat",
}  # fmt: skip


def test_catalogue_holds_the_17_regimes_of_the_seed():
    catalogue = default_catalogue()
    assert len(catalogue) == 17
    assert {r.label for r in catalogue} == SEED_REGIMES
    assert catalogue.version


def test_only_msa_and_cnam_return_atmp():
    assert {r.code for r in default_catalogue() if r.returns_atmp} == {"cnam", "msa"}


def test_at_least_four_wire_families():
    assert default_catalogue().families == {"cnam", "msa", "slm", "special"}


@pytest.mark.parametrize(
    ("regime_code", "centre", "expected"),
    [
        ("01", None, "cnam"),
        ("03", None, "cnam"),  # ex-RSI merged into the régime général in 2019
        ("02", None, "msa"),
        ("04", None, "cprpf"),
        ("05", None, "ccas-ratp"),
        ("08", None, "cnmss"),
        ("91", None, "mgen"),
        ("93", None, "mgp"),
        ("94", None, "maee"),
        ("14", None, "assemblee-nationale"),
        ("15", None, "senat"),
        ("99", "0604", "interiale"),
        ("99", "555", "interiale"),
        ("99", "0505", "mage"),
        ("99", "0603", "camieg"),
    ],
)
def test_routing_from_regime_code(regime_code, centre, expected):
    regime = default_catalogue().route(regime_code, centre)
    assert regime is not None
    assert regime.code == expected


@pytest.mark.parametrize(("regime_code", "centre"), [("09", None), ("99", None), ("99", "9999")])
def test_routing_gives_none_when_no_single_regime_matches(regime_code, centre):
    assert default_catalogue().route(regime_code, centre) is None


def test_unknown_code_lists_the_valid_ones():
    with pytest.raises(UnknownRegimeError) as err:
        default_catalogue().get("cpam")
    assert "cnam" in err.value.message and "senat" in err.value.message
    assert default_catalogue().get("CNAM").code == "cnam"


def test_discovery_set_depends_on_the_number_kind():
    catalogue = default_catalogue()
    assert [r.code for r in catalogue.serving(NirKind.MSA_PROVISIONAL)] == ["msa"]
    assert len(catalogue.serving(NirKind.NIR)) == 17
    assert {r.code for r in catalogue.serving(NirKind.MIG)} == {"cnam"}


def test_invalid_catalogue_is_a_config_error():
    with pytest.raises(ConfigError):
        RegimeCatalogue.from_toml('version = "1"\n[[regime]]\ncode = "x"\n')
    text = (
        'version = "1"\n'
        + (
            '[[regime]]\ncode="a"\nlabel="A"\nname="A"\ngrand_regimes=["01"]\nexample_caisse="1"\n'
            'example_centre="1"\nfamily="f"\nreturns_atmp=false\nnir_kinds=["nir"]\n'
        )
        * 2
    )
    with pytest.raises(ConfigError, match="twice"):
        RegimeCatalogue.from_toml(text)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("017510000", "cnam"),
        ("01 751 0000", "cnam"),
        ("024710000", "msa"),
        ("995930604", "interiale"),
        ("997510505", "mage"),
        ("999390603", "camieg"),
        ("997510999", None),  # régime 99 with a centre no CDR regime uses
        ("09123", None),
        ("0175100AB", None),
    ],
)
def test_routing_from_an_organisation_number(number, expected):
    regime = default_catalogue().route_organisation(number)
    assert (regime.code if regime else None) == expected
