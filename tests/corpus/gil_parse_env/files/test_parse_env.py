from parse_env import parse_env


def test_pairs():
    assert parse_env("A=1\nB = two\n") == {"A": "1", "B": "two"}


def test_comments_and_blanks_skipped():
    assert parse_env("# config\nA=1\n\nB=2") == {"A": "1", "B": "2"}


def test_blank_line_between():
    assert parse_env("X=1\n\nY=2\n") == {"X": "1", "Y": "2"}
