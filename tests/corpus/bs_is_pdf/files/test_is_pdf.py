from is_pdf import is_pdf, sniff


def test_pdf():
    assert is_pdf(b"%PDF-1.7\n...") is True


def test_sniff_pdf():
    assert sniff(b"%PDF-1.4") == "pdf"


def test_png():
    assert sniff(b"\x89PNG\r\n") == "png"
