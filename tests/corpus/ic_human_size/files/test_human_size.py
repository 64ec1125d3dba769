from human_size import human_size


def test_bytes():
    assert human_size(512) == "512 B"


def test_kib():
    assert human_size(1536) == "1.5 KiB"


def test_mib():
    assert human_size(5 * 1024 * 1024) == "5.0 MiB"
