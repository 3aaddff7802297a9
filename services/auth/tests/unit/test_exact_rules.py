"""The administrator rule (EXACT_API.md section 9) and the chooser's preselection."""

from auth.domain.exact import DivisionChoice, administrator_decision, preselected

RIGHTS = {"sync/Financial/TransactionLines": True, "system/Divisions": True}


def test_an_administrator_role_and_every_right_allow_the_connection() -> None:
    decision = administrator_decision([1], [1], RIGHTS)
    assert decision.allowed and decision.missing_rights == ()


def test_without_the_administrator_role_the_user_is_refused() -> None:
    decision = administrator_decision([20], [1], RIGHTS)
    assert not decision.allowed and not decision.has_admin_role
    assert "not an administrator" in decision.explanation


def test_a_missing_right_refuses_even_an_administrator() -> None:
    decision = administrator_decision([1, 20], [1, 7], {**RIGHTS, "budget/Budgets": False})
    assert not decision.allowed and decision.has_admin_role
    assert decision.missing_rights == ("budget/Budgets",)
    assert "budget/Budgets" in decision.explanation


CHOICES = (DivisionChoice(1, "a"), DivisionChoice(2, "b"), DivisionChoice(3, "c"))


def test_the_bound_division_is_preselected_then_the_open_one_then_the_first() -> None:
    assert preselected(CHOICES, bound=3, current=2) == 3
    assert preselected(CHOICES, bound=9, current=2) == 2
    assert preselected(CHOICES, bound=None, current=None) == 1
    assert preselected((), bound=1, current=1) is None
