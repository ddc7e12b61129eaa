"""The JSON documents ``drumscribe setup`` applies, packaged with the code.

Each ``*.json`` here is a symlink to the copy at the repository root (``../../../<name>.json``),
so there is exactly one hand-edited copy: the editable install reads the root file through the
link, and hatchling follows the link and puts the file's contents into wheels and sdists.
Read them with ``drumscribe.provision.documents`` (which substitutes the bucket name).
"""
