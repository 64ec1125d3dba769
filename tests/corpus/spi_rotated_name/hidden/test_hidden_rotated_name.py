from rotated_name import rotated_name, rotation_names


def test_big_index():
    assert rotated_name("db.wal", 12) == "db.wal.12"


def test_keep_zero():
    assert rotation_names("a", 0) == ["a"]


def test_many():
    names = rotation_names("svc.log", 9)
    assert names[0] == "svc.log" and names[-1] == "svc.log.9" and len(set(names)) == 10
