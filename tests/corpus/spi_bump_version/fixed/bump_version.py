"""Release tooling: semantic version bumps."""


def bump_patch(version):
    """'1.4.9' -> '1.4.10'. Raises ValueError for anything but three dot-separated parts."""
    major, minor, patch = version.split(".")
    return major + "." + minor + "." + str(int(patch) + 1)
