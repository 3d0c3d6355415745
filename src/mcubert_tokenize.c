/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * BERT uncased tokenization on the device: UTF-8 decoding, the BasicTokenizer's normalisation
 * (generated tables, mcubert_unicode_tables.c), splitting into words, then WordPiece over the
 * vocabulary blob (format: python/mcubert/export/tokenizer_blob.py). Text streams through one
 * word at a time, so the scratch holds one word however long the text is.
 */
#include <string.h>

#include "mcubert/mcubert_tokenize.h"
#include "mcubert_internal.h"
#include "mcubert_unicode_tables.h"

#define HEADER_SIZE 84u
#define BLOCK 16u
#define TABLE_INITIAL 0u
#define TABLE_CONT 1u
#define WORD_BYTES (4u * MCUBERT_TOKENIZE_MAX_WORD_CHARS)
#define MAX_TOKEN_BYTES 255u

struct table {
	const uint8_t *index;
	const uint8_t *data;
	uint32_t n, blocks, data_len, longest;
};

/* ids go to ids[0..cap); count keeps counting past cap so truncation is known */
struct sink {
	uint16_t *ids;
	size_t cap;
	size_t count;
	size_t limit; /* stop reading the text once count exceeds this */
};

struct word {
	uint8_t *buf;
	uint32_t bytes;
	uint32_t chars; /* saturates at MAX_WORD_CHARS + 1 */
};

static void get_table(const uint8_t *blob, uint32_t which, struct table *t)
{
	const uint8_t *p = blob + 36u + 24u * which;

	t->n = mcubert_rd32(p);
	t->blocks = mcubert_rd32(p + 4);
	t->index = blob + mcubert_rd32(p + 8);
	t->data = blob + mcubert_rd32(p + 12);
	t->data_len = mcubert_rd32(p + 16);
	t->longest = mcubert_rd32(p + 20);
}

/* Entry header at d[*o]: shared-prefix and suffix lengths. */
static void entry_head(const uint8_t *d, uint32_t *o, uint32_t *lcp, uint32_t *sfx)
{
	uint8_t h = d[*o];

	if (h == 0xFFu) {
		*lcp = d[*o + 1];
		*sfx = d[*o + 2];
		*o += 3;
	} else {
		*lcp = h >> 4;
		*sfx = h & 15u;
		*o += 1;
	}
}

static int compare(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0) {
		return c;
	}
	return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* Validate one table completely, so lookups need no checks; prev/cur: two token buffers. */
static int check_table(const uint8_t *blob, uint32_t total, uint32_t which, uint32_t vocab,
		       uint8_t *prev, uint8_t *cur)
{
	const uint8_t *p = blob + 36u + 24u * which;
	uint32_t idx_off = mcubert_rd32(p + 8), data_off = mcubert_rd32(p + 12);
	struct table t;
	uint32_t o = 0, prev_len = 0;

	get_table(blob, which, &t);
	if (t.longest > MAX_TOKEN_BYTES || t.blocks != (t.n + BLOCK - 1u) / BLOCK ||
	    idx_off < HEADER_SIZE || idx_off > total || t.blocks > (total - idx_off) / 4u ||
	    data_off < HEADER_SIZE || data_off > total || t.data_len > total - data_off) {
		return MCUBERT_ERR_LAYOUT;
	}
	for (uint32_t i = 0; i < t.n; i++) {
		uint32_t lcp, sfx;

		if (i % BLOCK == 0u && mcubert_rd32(t.index + 4u * (i / BLOCK)) != o) {
			return MCUBERT_ERR_LAYOUT;
		}
		if (t.data_len - o < 3u) {
			return MCUBERT_ERR_LAYOUT;
		}
		entry_head(t.data, &o, &lcp, &sfx);
		if ((i % BLOCK == 0u && lcp != 0u) || lcp > prev_len || lcp + sfx == 0u ||
		    lcp + sfx > t.longest || t.data_len - o < sfx + 2u) {
			return MCUBERT_ERR_LAYOUT;
		}
		if (lcp > 0u) {
			memcpy(cur, prev, lcp);
		}
		memcpy(cur + lcp, t.data + o, sfx);
		o += sfx;
		if ((uint32_t)(t.data[o] | (t.data[o + 1] << 8)) >= vocab) {
			return MCUBERT_ERR_LAYOUT;
		}
		o += 2;
		/* strictly sorted, or the binary search would miss tokens */
		if (i > 0u && compare(prev, prev_len, cur, lcp + sfx) >= 0) {
			return MCUBERT_ERR_LAYOUT;
		}
		prev_len = lcp + sfx;
		memcpy(prev, cur, prev_len);
	}
	return o == t.data_len ? MCUBERT_OK : MCUBERT_ERR_LAYOUT;
}

size_t mcubert_tokenize_buffer_size(void)
{
	return MCUBERT_TOKENIZE_BUFFER_SIZE;
}

uint32_t mcubert_tokenize_unicode_version(void)
{
	return mcubert_unicode_version;
}

int mcubert_vocab_init(struct mcubert_vocab *v, const uint8_t *blob, size_t blob_len,
		       uint8_t *scratch, size_t scratch_len)
{
	uint32_t total, vocab;
	int err;

	if (v == NULL) {
		return MCUBERT_ERR_ARG;
	}
	memset(v, 0, sizeof(*v));
	if (blob == NULL || scratch == NULL) {
		return MCUBERT_ERR_ARG;
	}
	if (scratch_len < MCUBERT_TOKENIZE_BUFFER_SIZE) {
		return MCUBERT_ERR_SCRATCH;
	}
	if (blob_len < HEADER_SIZE) {
		return MCUBERT_ERR_TRUNCATED;
	}
	if (mcubert_rd32(blob) != MCUBERT_TOKENIZE_MAGIC) {
		return MCUBERT_ERR_MAGIC;
	}
	if (mcubert_rd32(blob + 4) != MCUBERT_TOKENIZE_VERSION) {
		return MCUBERT_ERR_VERSION;
	}
	total = mcubert_rd32(blob + 8);
	if (total < HEADER_SIZE || total > blob_len) {
		return MCUBERT_ERR_TRUNCATED;
	}
	if (mcubert_crc32(0, blob + 16, total - 16u) != mcubert_rd32(blob + 12)) {
		return MCUBERT_ERR_CRC;
	}
	/* the vocabulary was filtered with these tables' classes */
	if (mcubert_rd32(blob + 32) != mcubert_unicode_version) {
		return MCUBERT_ERR_VERSION;
	}
	vocab = mcubert_rd32(blob + 16);
	if (vocab == 0u || vocab > MCUBERT_MAX_VOCAB || mcubert_rd32(blob + 20) >= vocab ||
	    mcubert_rd32(blob + 24) >= vocab || mcubert_rd32(blob + 28) >= vocab) {
		return MCUBERT_ERR_LAYOUT;
	}
	for (uint32_t w = 0; w < 2u; w++) {
		err = check_table(blob, total, w, vocab, scratch, scratch + MAX_TOKEN_BYTES);
		if (err != MCUBERT_OK) {
			return err;
		}
	}
	v->blob = blob;
	v->scratch = scratch;
	v->vocab_size = vocab;
	v->unk = (uint16_t)mcubert_rd32(blob + 20);
	v->cls = (uint16_t)mcubert_rd32(blob + 24);
	v->sep = (uint16_t)mcubert_rd32(blob + 28);
	v->magic = MCUBERT_TOKENIZE_MAGIC;
	return MCUBERT_OK;
}

/* Id of the token key[0..klen) in t, or -1. */
static int32_t find(const struct table *t, const uint8_t *key, uint32_t klen, uint8_t *buf)
{
	uint32_t lo = 0, hi = t->blocks, o, count, len = 0;

	if (klen > t->longest) {
		return -1;
	}
	/* first block whose first token is above key */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2u, lcp, sfx;

		o = mcubert_rd32(t->index + 4u * mid);
		entry_head(t->data, &o, &lcp, &sfx);
		if (compare(t->data + o, sfx, key, klen) <= 0) {
			lo = mid + 1u;
		} else {
			hi = mid;
		}
	}
	if (lo == 0u) {
		return -1;
	}
	o = mcubert_rd32(t->index + 4u * (lo - 1u));
	count = t->n - (lo - 1u) * BLOCK;
	count = count < BLOCK ? count : BLOCK;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t lcp, sfx;
		int c;

		entry_head(t->data, &o, &lcp, &sfx);
		memcpy(buf + lcp, t->data + o, sfx);
		o += sfx;
		len = lcp + sfx;
		c = compare(buf, len, key, klen);
		if (c == 0) {
			return (int32_t)(t->data[o] | (t->data[o + 1] << 8));
		}
		if (c > 0) {
			return -1;
		}
		o += 2;
	}
	return -1;
}

static void put(struct sink *s, uint32_t id)
{
	if (s->count < s->cap) {
		s->ids[s->count] = (uint16_t)id;
	}
	s->count++;
}

static int is_cont_byte(uint8_t b)
{
	return (b & 0xC0u) == 0x80u;
}

/* Greedy longest-match-first; a word with an unmatched rest is one [UNK]. */
static void wordpiece(const struct mcubert_vocab *v, const uint8_t *w, uint32_t bytes,
		      struct sink *s)
{
	struct table t[2];
	size_t mark = s->count;
	uint32_t start = 0, which = TABLE_INITIAL;
	uint8_t *buf = v->scratch + WORD_BYTES;

	get_table(v->blob, TABLE_INITIAL, &t[0]);
	get_table(v->blob, TABLE_CONT, &t[1]);
	while (start < bytes) {
		uint32_t end = bytes;
		int32_t id = -1;

		if (end - start > t[which].longest) {
			end = start + t[which].longest;
			while (end > start && is_cont_byte(w[end])) {
				end--;
			}
		}
		while (end > start) {
			id = find(&t[which], w + start, end - start, buf);
			if (id >= 0) {
				break;
			}
			do {
				end--;
			} while (end > start && is_cont_byte(w[end]));
		}
		if (id < 0) {
			s->count = mark;
			put(s, v->unk);
			return;
		}
		put(s, (uint32_t)id);
		start = end;
		which = TABLE_CONT;
	}
}

static void flush(const struct mcubert_vocab *v, struct word *w, struct sink *s)
{
	if (w->chars > MCUBERT_TOKENIZE_MAX_WORD_CHARS) {
		put(s, v->unk);
	} else if (w->chars > 0u) {
		wordpiece(v, w->buf, w->bytes, s);
	}
	w->bytes = 0;
	w->chars = 0;
}

static uint32_t utf8_put(uint8_t *p, uint32_t cp)
{
	if (cp < 0x80u) {
		p[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800u) {
		p[0] = (uint8_t)(0xC0u | (cp >> 6));
		p[1] = (uint8_t)(0x80u | (cp & 0x3Fu));
		return 2;
	}
	if (cp < 0x10000u) {
		p[0] = (uint8_t)(0xE0u | (cp >> 12));
		p[1] = (uint8_t)(0x80u | ((cp >> 6) & 0x3Fu));
		p[2] = (uint8_t)(0x80u | (cp & 0x3Fu));
		return 3;
	}
	p[0] = (uint8_t)(0xF0u | (cp >> 18));
	p[1] = (uint8_t)(0x80u | ((cp >> 12) & 0x3Fu));
	p[2] = (uint8_t)(0x80u | ((cp >> 6) & 0x3Fu));
	p[3] = (uint8_t)(0x80u | (cp & 0x3Fu));
	return 4;
}

/* One normalised code point of class cls into the current word. */
static void add(const struct mcubert_vocab *v, struct word *w, struct sink *s, uint32_t cp,
		uint32_t cls)
{
	if (cls == MCUBERT_UC_SPACE) {
		flush(v, w, s);
		return;
	}
	if (cls == MCUBERT_UC_PUNCT) {
		flush(v, w, s);
	}
	if (w->chars < MCUBERT_TOKENIZE_MAX_WORD_CHARS) {
		w->bytes += utf8_put(w->buf + w->bytes, cp);
	}
	if (w->chars <= MCUBERT_TOKENIZE_MAX_WORD_CHARS) {
		w->chars++;
	}
	if (cls == MCUBERT_UC_PUNCT) {
		flush(v, w, s);
	}
}

/* Index of the record holding cp: the last one starting at or below it. */
static uint32_t record_of(uint32_t cp)
{
	uint32_t lo = 0, hi = mcubert_unicode_n_records;

	while (hi - lo > 1u) {
		uint32_t mid = lo + (hi - lo) / 2u;

		if ((mcubert_unicode_records[mid][0] & 0x1FFFFFu) <= cp) {
			lo = mid;
		} else {
			hi = mid;
		}
	}
	return lo;
}

static void normalise(const struct mcubert_vocab *v, struct word *w, struct sink *s, uint32_t cp)
{
	uint32_t r = record_of(cp), a = mcubert_unicode_records[r][0];
	uint32_t value = mcubert_unicode_records[r][1];
	uint32_t op = (a >> 21) & 7u, cls = (a >> 24) & 3u, cjk = (a >> 26) & 1u;
	uint32_t start = a & 0x1FFFFFu;

	if (cjk) {
		flush(v, w, s); /* BERT pads CJK ideographs with spaces */
	}
	switch (op) {
	case MCUBERT_UC_DROP:
		break;
	case MCUBERT_UC_SEP:
		flush(v, w, s);
		break;
	case MCUBERT_UC_IDENT:
		add(v, w, s, cp, cls);
		break;
	case MCUBERT_UC_DELTA:
		add(v, w, s, cp + value, cls); /* unsigned wrap-around: value may be negative */
		break;
	case MCUBERT_UC_CONST:
		add(v, w, s, value, cls);
		break;
	case MCUBERT_UC_STRIDE2:
		add(v, w, s, ((cp - start) & 1u) ? cp : cp + value, cls);
		break;
	case MCUBERT_UC_SEQ:
		for (uint32_t i = 0; i < mcubert_unicode_seqs[value]; i++) {
			uint32_t e = mcubert_unicode_seqs[value + 1u + i];

			add(v, w, s, e & 0x1FFFFFu, e >> 21);
		}
		break;
	default: { /* MCUBERT_UC_HANGUL: L V [T] jamo */
		uint32_t k = cp - 0xAC00u;

		add(v, w, s, 0x1100u + k / 588u, MCUBERT_UC_LETTER);
		add(v, w, s, 0x1161u + (k % 588u) / 28u, MCUBERT_UC_LETTER);
		if (k % 28u) {
			add(v, w, s, 0x11A7u + k % 28u, MCUBERT_UC_LETTER);
		}
		break;
	}
	}
	if (cjk) {
		flush(v, w, s);
	}
}

/* Next code point of s[*i..len), or U+FFFD for an invalid sequence's maximal subpart. */
static uint32_t utf8_next(const uint8_t *s, size_t len, size_t *i)
{
	uint8_t b = s[*i];
	uint32_t cp, need;
	uint8_t lo = 0x80u, hi = 0xBFu;

	*i += 1;
	if (b < 0x80u) {
		return b;
	}
	if (b >= 0xC2u && b <= 0xDFu) {
		need = 1;
		cp = b & 0x1Fu;
	} else if (b >= 0xE0u && b <= 0xEFu) {
		need = 2;
		cp = b & 0x0Fu;
		lo = b == 0xE0u ? 0xA0u : 0x80u; /* no overlongs */
		hi = b == 0xEDu ? 0x9Fu : 0xBFu; /* no surrogates */
	} else if (b >= 0xF0u && b <= 0xF4u) {
		need = 3;
		cp = b & 0x07u;
		lo = b == 0xF0u ? 0x90u : 0x80u;
		hi = b == 0xF4u ? 0x8Fu : 0xBFu; /* nothing above U+10FFFF */
	} else {
		return 0xFFFDu;
	}
	for (uint32_t k = 0; k < need; k++) {
		if (*i >= len || s[*i] < lo || s[*i] > hi) {
			return 0xFFFDu;
		}
		cp = (cp << 6) | (s[*i] & 0x3Fu);
		*i += 1;
		lo = 0x80u;
		hi = 0xBFu;
	}
	return cp;
}

/* The text's WordPiece ids into s, up to the point where s->count exceeds s->limit. */
static void run(const struct mcubert_vocab *v, const char *text, size_t len, struct sink *s)
{
	struct word w = {v->scratch, 0, 0};
	size_t i = 0;

	while (i < len && s->count <= s->limit) {
		normalise(v, &w, s, utf8_next((const uint8_t *)text, len, &i));
	}
	flush(v, &w, s);
}

static int usable(const struct mcubert_vocab *v)
{
	return v != NULL && v->magic == MCUBERT_TOKENIZE_MAGIC;
}

int mcubert_tokenize(const struct mcubert_vocab *v, const char *utf8, size_t len, uint16_t *ids,
		     size_t max_ids, size_t *n)
{
	struct sink s;

	if (!usable(v) || ids == NULL || n == NULL || (utf8 == NULL && len > 0u)) {
		return MCUBERT_ERR_ARG;
	}
	*n = 0;
	if (max_ids < 2u) {
		return MCUBERT_ERR_MAX_IDS;
	}
	s.ids = ids + 1;
	s.cap = max_ids - 2u;
	s.count = 0;
	s.limit = s.cap;
	run(v, utf8, len, &s);
	ids[0] = v->cls;
	*n = (s.count < s.cap ? s.count : s.cap) + 2u;
	ids[*n - 1u] = v->sep;
	return s.count > s.cap ? MCUBERT_TOKENIZE_TRUNCATED : MCUBERT_OK;
}

/* Tokens kept of each side with room for both: the tokenizers library's LongestFirst (the
 * shorter side keeps what it can, up to half; an odd token to the longer, or to b on a tie). */
static void pair_lengths(size_t n1, size_t n2, size_t room, size_t *k1, size_t *k2)
{
	int swap = n1 > n2;
	size_t lo = swap ? n2 : n1, hi;

	if (n1 + n2 <= room) {
		*k1 = n1;
		*k2 = n2;
		return;
	}
	hi = lo > room ? lo : (lo > room - lo ? lo : room - lo);
	if (lo + hi > room) {
		lo = room / 2u;
		hi = lo + room % 2u;
	}
	*k1 = swap ? hi : lo;
	*k2 = swap ? lo : hi;
}

int mcubert_tokenize_pair(const struct mcubert_vocab *v, const char *a, size_t alen,
			  const char *b, size_t blen, uint16_t *ids, size_t max_ids, size_t *n,
			  size_t *n_first)
{
	struct sink sa, sb;
	size_t room, ka, kb;

	if (!usable(v) || ids == NULL || n == NULL || n_first == NULL ||
	    (a == NULL && alen > 0u) || (b == NULL && blen > 0u)) {
		return MCUBERT_ERR_ARG;
	}
	*n = 0;
	*n_first = 0;
	if (max_ids < 3u) {
		return MCUBERT_ERR_MAX_IDS;
	}
	room = max_ids - 3u;
	/* the cut needs both full lengths: count b, keep what fits of a, then write b */
	sb.ids = NULL;
	sb.cap = 0;
	sb.count = 0;
	sb.limit = (size_t)-1;
	run(v, b, blen, &sb);
	sa.ids = ids + 1;
	sa.cap = room;
	sa.count = 0;
	sa.limit = (size_t)-1;
	run(v, a, alen, &sa);
	pair_lengths(sa.count, sb.count, room, &ka, &kb);
	ids[0] = v->cls;
	ids[1u + ka] = v->sep;
	if (kb > 0u) {
		struct sink s2 = {ids + 2u + ka, kb, 0, kb};

		run(v, b, blen, &s2);
	}
	ids[2u + ka + kb] = v->sep;
	*n = 3u + ka + kb;
	*n_first = 2u + ka;
	return (ka < sa.count || kb < sb.count) ? MCUBERT_TOKENIZE_TRUNCATED : MCUBERT_OK;
}
