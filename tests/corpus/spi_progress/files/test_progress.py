from progress import progress_message


def test_partial():
    assert progress_message(3, 10) == "3/10 files (30%)"


def test_done():
    assert progress_message(4, 4) == "4/4 files (100%)"


def test_empty_batch():
    assert progress_message(0, 0) == "0/0 files (100%)"
