# SPDX-License-Identifier: Apache-2.0
"""mcubert: int8 BERT text classifiers for microcontrollers."""

__version__ = "0.1.0"
