from is_pdf import is_pdf, sniff


def test_not_pdf():
    assert is_pdf(b"%PDX-1.4") is False
    assert is_pdf(b"") is False


def test_unknown():
    assert sniff(b"GIF89a") == "unknown"
    assert sniff(b"") == "unknown"


def test_exact_prefix():
    assert is_pdf(b"%PDF-") is True
