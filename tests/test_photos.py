"""The photo-like digits lesson 7 ships are what mnist_course/photos.py makes."""

import numpy as np

from mnist_course.course import ROOT
from mnist_course.photos import PER_DIGIT, load_photos, write_photos

SHIPPED = ROOT / "lessons" / "photos"


def test_the_shipped_photos_are_what_the_generator_makes(tmp_path):
    shipped = load_photos(SHIPPED)
    write_photos(tmp_path)
    made = load_photos(tmp_path)
    assert [digit for digit, _ in shipped] == [digit for digit, _ in made]
    assert sorted(digit for digit, _ in shipped) == sorted(list(range(10)) * PER_DIGIT)
    for (_, a), (_, b) in zip(shipped, made):
        # JPEG codecs of other Pillow builds may differ in the last bits; the drawing may not.
        assert a.shape == b.shape == (160, 160, 3)
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 2


def test_each_photo_shows_dark_ink_on_light_paper():
    for digit, picture in load_photos(SHIPPED):
        gray = picture.mean(axis=2)
        assert np.median(gray) > 150, digit  # mostly paper
        assert gray.min() < np.median(gray) - 60, digit  # with clearly darker ink
