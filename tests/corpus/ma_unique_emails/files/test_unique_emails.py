from unique_emails import unique_emails


def test_duplicates_removed():
    assert unique_emails(["a@x.io", "A@X.io", "b@x.io"]) == ["a@x.io", "b@x.io"]


def test_whitespace():
    assert unique_emails([" c@y.io", "c@y.io "]) == ["c@y.io"]


def test_order_kept():
    assert unique_emails(["z@z", "a@a"]) == ["z@z", "a@a"]
