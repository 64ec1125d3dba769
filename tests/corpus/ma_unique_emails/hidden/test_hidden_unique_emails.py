from unique_emails import unique_emails


def test_empty():
    assert unique_emails([]) == []


def test_many():
    addresses = [f"user{i % 7}@Example.COM" for i in range(30)]
    assert unique_emails(addresses) == [f"user{i}@Example.COM" for i in range(7)]


def test_first_spelling_wins():
    assert unique_emails(["MiXed@a.b", "mixed@a.b", "MIXED@A.B"]) == ["MiXed@a.b"]
