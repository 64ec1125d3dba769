from llist.linked import from_list, length, to_list


def test_lengths():
    for n in range(0, 30):
        head = from_list(list(range(n)))
        assert length(head) == n
        assert to_list(head) == list(range(n))
