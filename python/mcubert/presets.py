# SPDX-License-Identifier: Apache-2.0
"""Model shapes by name, as plain data: the CLI and `mcubert info` read them without torch."""

# Shapes of the Google "well-read students" small BERTs.
PRESETS = {
    "bert-tiny": dict(num_hidden_layers=2, hidden_size=128, num_attention_heads=2, intermediate_size=512),
    "bert-mini": dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4, intermediate_size=1024),
    # not a Google shape: the sample's model for boards with 256 KiB of flash and 64 KiB of RAM
    "bert-micro": dict(num_hidden_layers=1, hidden_size=64, num_attention_heads=2, intermediate_size=128),
}


def preset_of(layers: int, hidden: int, heads: int, ffn: int) -> str | None:
    """The preset with this shape, if any."""
    for name, p in PRESETS.items():
        if (p["num_hidden_layers"], p["hidden_size"], p["num_attention_heads"], p["intermediate_size"]) == \
                (layers, hidden, heads, ffn):
            return name
    return None
