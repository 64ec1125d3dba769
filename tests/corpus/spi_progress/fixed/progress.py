"""Progress tooltips for the batch renamer."""


def progress_message(done, total):
    """'3/10 files (30%)'; an empty batch counts as 100% done."""
    percent = done * 100 // total if total else 100
    return str(done) + "/" + str(total) + " files (" + str(percent) + "%)"
