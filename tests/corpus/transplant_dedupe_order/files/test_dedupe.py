from dedupe import dedupe_lines, normalize


def test_keeps_first_occurrence_order():
    assert dedupe_lines(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


def test_case_and_space_insensitive():
    assert dedupe_lines(["Zeta ", "zeta", "Alpha"]) == ["Zeta ", "Alpha"]


def test_normalize():
    assert normalize("  MiXed ") == "mixed"
