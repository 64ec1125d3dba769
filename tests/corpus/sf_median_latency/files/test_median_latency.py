from median_latency import latency_summary


def test_outlier_does_not_move_median():
    assert latency_summary([10, 12, 11, 900])["median"] == 11.5


def test_odd_count():
    assert latency_summary([5, 1, 3]) == {"median": 3, "max": 5}


def test_single():
    assert latency_summary([7]) == {"median": 7, "max": 7}
