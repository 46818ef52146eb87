"""Meta-test: every registered rule has a catalog id, a tech text, and fixtures it fires on
(and near misses it stays quiet on).  Each tests/core/analysis/test_rules_*.py module lists
CASES = [(rule_id, scenario() -> Session, must_fire: bool), ...]."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

from sipscope.core.analysis.catalog import CATALOG
from sipscope.core.analysis.registry import load_rules

HERE = Path(__file__).parent


def all_cases():
    cases = []
    for module_info in pkgutil.iter_modules([str(HERE)]):
        if module_info.name.startswith("test_rules_"):
            module = importlib.import_module(f"core.analysis.{module_info.name}")
            cases += [(module_info.name, *case) for case in getattr(module, "CASES", [])]
    return cases


CASES = all_cases()


def test_every_rule_has_catalog_id_text_and_fixtures():
    rules = load_rules()
    assert rules, "no rule is registered"
    covered_fire = {rule_id for _, rule_id, _, must in CASES if must}
    covered_quiet = {rule_id for _, rule_id, _, must in CASES if not must}
    for rule in rules.values():
        assert rule.id in CATALOG
        assert len(rule.text) > 60, f"{rule.id} has no tech text"
        assert rule.id in covered_fire, f"{rule.id} has no fixture it must fire on"
        assert rule.id in covered_quiet, f"{rule.id} has no near miss it must stay quiet on"


@pytest.mark.parametrize("module,rule_id,scenario,must_fire", CASES,
                         ids=[f"{c[1]}-{c[2].__name__}" for c in CASES])
def test_rule_fixture(module, rule_id, scenario, must_fire):
    session = scenario()
    fired = [f for f in session.findings if f.id == rule_id and not f.inconclusive]
    assert not session.analysis_warnings, session.analysis_warnings
    if must_fire:
        assert fired, f"{rule_id} did not fire on {scenario.__name__}"
    else:
        assert not fired, f"{rule_id} fired on the near miss {scenario.__name__}: {fired[0].explanation}"
