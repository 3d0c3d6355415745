# SPDX-License-Identifier: Apache-2.0
"""The float model: a transformers BERT with the clustered low-rank word embedding.

Holds: `config` (McuBertConfig and the presets), `embedding` (ClusteredLowRankEmbedding),
`model` (McuBertForSequenceClassification, `save_pretrained` format), `newmodel` (seeded
random models for tests and benchmarks), `importer` (a transformers BertForSequenceClassification
as an mcubert model, refusing what the runtime cannot run).

May import: mcubert.text, mcubert.int8.
Imports torch and transformers."""
