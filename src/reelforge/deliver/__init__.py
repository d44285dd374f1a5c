"""Delivery: a render made into the files a studio hands over — assembled, marked, watermarked, localized, signed."""
