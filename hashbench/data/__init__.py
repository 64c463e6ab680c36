"""Data sets: bytes on disk (archives, image folders, list files, CIFAR releases) to one
:class:`~hashbench.data.dataset.Dataset` of uint8 images and labels, decoded once and cached."""
