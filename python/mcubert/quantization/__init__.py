# SPDX-License-Identifier: Apache-2.0
"""Float checkpoint to int8 model: calibration and post-training quantization.

Holds: `quantize` (calibrate a McuBertForSequenceClassification and quantize it into a
QuantModel; `quantize_checkpoint`, the whole `mcubert quantize` step).

May import: mcubert.text, mcubert.int8, mcubert.data, mcubert.modeling.
Imports torch."""
