from fetch_all import fetch_all


def pages(*chunks):
    def fetch(token):
        index = token or 0
        nxt = index + 1 if index + 1 < len(chunks) else None
        return chunks[index], nxt
    return fetch


def test_single_page():
    assert fetch_all(pages([1, 2])) == [1, 2]


def test_three_pages():
    assert fetch_all(pages([1], [2, 3], [4])) == [1, 2, 3, 4]


def test_empty_middle_page():
    assert fetch_all(pages(["a"], [], ["b"])) == ["a", "b"]
