# SPDX-License-Identifier: Apache-2.0
"""The sentences test_shell.py types at 'mcubert classify', with the label that the Python integer
reference gives with both committed models (model/sentiment_tiny.mcubert and
model/sentiment_micro.mcubert, MAX_SEQ_LEN 128); python/tests/test_zephyr_shell.py checks that."""

# (sentence, label of the Python integer reference). Printable ASCII only: Zephyr's shell drops
# other bytes at the prompt (tests/tokenizer checks Unicode and invalid UTF-8 through the C API).
CASES = [
    ("a gripping, beautifully acted film that stays with you long after the credits roll", "positive"),
    ("the plot is a mess and the dialogue made me cringe from start to finish", "negative"),
    ("one of the warmest and funniest comedies i have seen in years", "positive"),
    ("two hours of my life i will never get back", "negative"),
    ("the soundtrack is lovely and the young lead gives a wonderful performance", "positive"),
    ("dull, predictable and far too long", "negative"),
    ("Don't waste your money on this one, it is awful.", "negative"),
    ("I LOVED IT!!! Best movie of the year.", "positive"),
    ("The acting was superb and the story moved me to tears", "positive"),
    ("boring, boring, boring", "negative"),
    ('"A masterpiece" said everybody', "positive"),
    ("what a charming, clever and touching little film", "positive"),
    ("an ugly, pointless and tedious waste of time", "negative"),
    # 162 tokens: cut to the model's 128, as the reference cuts it
    ("great fun " * 80, "positive"),
]

