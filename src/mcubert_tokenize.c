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

#define HEADER_SIZE 64u
#define TABLE_WORDS 11u
#define N_TABLES 3u
#define TABLE_INITIAL 0u
#define TABLE_CONT 1u
#define TABLE_SINGLE 2u /* word-initial single characters with implicit ids */
#define WORD_BYTES (4u * MCUBERT_TOKENIZE_MAX_WORD_CHARS)
#define MAX_TOKEN_BYTES 255u
#define MAX_CODE_LEN 15u
#define MAX_SHIFT 12u
#define END 0u /* ends a token's bytes */
/* map ops */
#define OP_DELTA 0u
#define OP_CONST 1u
#define OP_STRIDE2 2u
#define OP_SEQ 3u
/* class of a normalised character in a word */
#define CLS_LETTER 0u
#define CLS_PUNCT 1u
#define CLS_SPACE 2u

struct table {
	const uint8_t *index, *data, *ids, *model, *ctxmap;
	uint32_t n, shift, blocks, data_len, id_bits, id_base, longest;
	uint32_t n_pop, n_char; /* codes: n_pop pop contexts, n_char char contexts, one rise */
};

struct bits {
	const uint8_t *d;
	uint32_t pos, end; /* in bits, MSB first */
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

static uint32_t rd16(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t rd24(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}

static void get_table(const uint8_t *blob, uint32_t which, struct table *t)
{
	const uint8_t *p = blob + HEADER_SIZE + 4u * TABLE_WORDS * which;
	uint32_t id_off = mcubert_rd32(p + 24);

	t->n = mcubert_rd32(p);
	t->shift = mcubert_rd32(p + 4);
	t->blocks = mcubert_rd32(p + 8);
	t->index = blob + mcubert_rd32(p + 12);
	t->data = blob + mcubert_rd32(p + 16);
	t->data_len = mcubert_rd32(p + 20);
	t->ids = id_off != 0u ? blob + id_off : NULL;
	t->id_bits = mcubert_rd32(p + 28);
	t->id_base = mcubert_rd32(p + 32);
	t->model = blob + mcubert_rd32(p + 36);
	t->longest = mcubert_rd32(p + 40);
	t->ctxmap = blob + mcubert_rd32(blob + 52);
	t->n_char = mcubert_rd32(blob + 56);
	t->n_pop = mcubert_rd32(blob + 60);
}

/*
 * One canonical Huffman symbol of code k, or -1 (out of bits, or no such code). The table's
 * data has two bytes of padding, so three bytes hold the longest code at any bit position.
 */
static int32_t decode(const struct table *t, uint32_t k, struct bits *b)
{
	const uint8_t *c = t->model + rd16(t->model + 2u * k);
	const uint8_t *d = b->d + (b->pos >> 3);
	uint32_t top = c[0], first = 0, index = 0;
	uint32_t w = (((uint32_t)d[0] << 24) | ((uint32_t)d[1] << 16) | ((uint32_t)d[2] << 8))
		     << (b->pos & 7u);

	for (uint32_t len = 1; len <= top; len++) {
		uint32_t count = c[len], code = w >> (32u - len);

		if (code - first < count) { /* canonical: code >= first here, or it wraps */
			if (len > b->end - b->pos) {
				return -1;
			}
			b->pos += len;
			return c[1u + top + index + code - first];
		}
		index += count;
		first = (first + count) << 1;
	}
	return -1;
}

/*
 * The next entry into buf, which holds the previous token (len bytes; start: a block's first
 * entry, which shares nothing). Its length, or -1 on a malformed stream.
 */
static int32_t next_entry(const struct table *t, struct bits *b, uint8_t *buf, uint32_t len,
			  int start, uint32_t *shared)
{
	uint32_t n = 0;
	int32_t s;

	*shared = 0;
	if (!start) {
		s = decode(t, (len < t->n_pop ? len : t->n_pop) - 1u, b);
		if (s < 0 || (uint32_t)s > len) {
			return -1;
		}
		n = len - (uint32_t)s;
		*shared = n;
		if (n < len) { /* sorted: the first new byte rises over the one it replaces */
			s = decode(t, t->n_pop + t->n_char, b);
			if (s <= 0 || buf[n] + (uint32_t)s > 255u) {
				return -1;
			}
			buf[n] = (uint8_t)(buf[n] + (uint32_t)s);
			n++;
		}
	}
	for (;;) {
		s = decode(t, t->n_pop + (n == 0u ? 0u : t->ctxmap[buf[n - 1u]]), b);
		if (s < 0) {
			return -1;
		}
		if ((uint32_t)s == END) {
			return n > 0u ? (int32_t)n : -1;
		}
		if (n >= t->longest) {
			return -1;
		}
		buf[n++] = (uint8_t)s;
	}
}

static int32_t block_first(const struct table *t, uint32_t blk, uint8_t *buf, struct bits *b)
{
	b->d = t->data;
	b->pos = 8u * rd24(t->index + 3u * blk);
	b->end = 8u * t->data_len;
	uint32_t shared;

	return next_entry(t, b, buf, 0, 1, &shared);
}

/* Sign of (block blk's first token - key[0..k)), decoding only as far as it takes. */
static int compare_first(const struct table *t, uint32_t blk, const uint8_t *key, uint32_t k)
{
	struct bits b = {t->data, 8u * rd24(t->index + 3u * blk), 8u * t->data_len};

	for (uint32_t n = 0;; n++) {
		/* the bytes so far equal the key's, so the key gives the context */
		int32_t s = decode(t, t->n_pop + (n == 0u ? 0u : t->ctxmap[key[n - 1u]]), &b);

		if ((uint32_t)s == END) {
			return n < k ? -1 : 0;
		}
		if (n == k) {
			return 1;
		}
		if ((uint32_t)s != key[n]) {
			return (uint32_t)s < key[n] ? -1 : 1;
		}
	}
}

static uint32_t entry_id(const struct table *t, uint32_t e)
{
	uint32_t bit, w;

	if (t->ids == NULL) {
		return t->id_base + e;
	}
	bit = e * t->id_bits;
	w = rd24(t->ids + (bit >> 3)); /* the array has two bytes of padding */
	return (w >> (bit & 7u)) & ((1u << t->id_bits) - 1u);
}

static int compare(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0) {
		return c;
	}
	return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* Each code of a table inside the blob, none oversubscribed. */
static int check_codes(const struct table *t, const uint8_t *blob, uint32_t total)
{
	uint32_t codes = t->n_pop + t->n_char + 1u;
	uint32_t model = (uint32_t)(t->model - blob);

	if (model > total || 2u * codes > total - model) {
		return MCUBERT_ERR_LAYOUT;
	}
	for (uint32_t k = 0; k < codes; k++) {
		uint32_t o = model + rd16(t->model + 2u * k), top, nsym = 0;
		int32_t left = 1;

		if (o >= total || (top = blob[o]) > MAX_CODE_LEN || top > total - o - 1u) {
			return MCUBERT_ERR_LAYOUT;
		}
		for (uint32_t len = 1; len <= top; len++) {
			left = 2 * left - blob[o + len];
			nsym += blob[o + len];
			if (left < 0) {
				return MCUBERT_ERR_LAYOUT;
			}
		}
		if (nsym > total - o - 1u - top) {
			return MCUBERT_ERR_LAYOUT;
		}
	}
	return MCUBERT_OK;
}

/* Validate one table completely, so lookups need no checks; prev/cur: two token buffers. */
static int check_table(const uint8_t *blob, uint32_t total, uint32_t which, uint32_t vocab,
		       uint8_t *prev, uint8_t *cur)
{
	const uint8_t *p = blob + HEADER_SIZE + 4u * TABLE_WORDS * which;
	uint32_t idx_off = mcubert_rd32(p + 12), data_off = mcubert_rd32(p + 16);
	uint32_t id_off = mcubert_rd32(p + 24), prev_len = 0;
	struct table t;
	struct bits b;
	int err;

	get_table(blob, which, &t);
	if (t.n > vocab || t.longest > MAX_TOKEN_BYTES || t.shift > MAX_SHIFT ||
	    t.blocks != (t.n + (1u << t.shift) - 1u) >> t.shift || idx_off < HEADER_SIZE ||
	    idx_off > total || t.blocks > (total - idx_off) / 3u || data_off < HEADER_SIZE ||
	    data_off > total || total - data_off < 2u || t.data_len > total - data_off - 2u ||
	    t.data_len > 0x1FFFFFFFu) {
		return MCUBERT_ERR_LAYOUT;
	}
	if (t.ids != NULL) {
		if (t.id_bits == 0u || t.id_bits > 16u || id_off < HEADER_SIZE || id_off > total ||
		    (t.n * t.id_bits + 7u) / 8u + 2u > total - id_off) {
			return MCUBERT_ERR_LAYOUT;
		}
	} else if (t.id_base > vocab || t.n > vocab - t.id_base) {
		return MCUBERT_ERR_LAYOUT;
	}
	err = check_codes(&t, blob, total);
	if (err != MCUBERT_OK) {
		return err;
	}
	b.d = t.data;
	b.pos = 0;
	b.end = 8u * t.data_len;
	for (uint32_t e = 0; e < t.n; e++) {
		int start = (e & ((1u << t.shift) - 1u)) == 0u;
		int32_t len;

		if (start) {
			b.pos = (b.pos + 7u) & ~7u;
			if (rd24(t.index + 3u * (e >> t.shift)) != b.pos / 8u) {
				return MCUBERT_ERR_LAYOUT;
			}
		}
		memcpy(prev, cur, prev_len);
		uint32_t shared;

		len = next_entry(&t, &b, cur, prev_len, start, &shared);
		/* strictly sorted, or the binary search would miss tokens */
		if (len < 0 || (e > 0u && compare(prev, prev_len, cur, (uint32_t)len) >= 0) ||
		    entry_id(&t, e) >= vocab) {
			return MCUBERT_ERR_LAYOUT;
		}
		prev_len = (uint32_t)len;
	}
	return (b.pos + 7u) / 8u == t.data_len ? MCUBERT_OK : MCUBERT_ERR_LAYOUT;
}

/* The map (what letters become) and the character contexts. */
static int check_map(const uint8_t *blob, uint32_t total)
{
	uint32_t map = mcubert_rd32(blob + 36), n = mcubert_rd32(blob + 40);
	uint32_t seq = mcubert_rd32(blob + 44), n_seq = mcubert_rd32(blob + 48);
	uint32_t ctx = mcubert_rd32(blob + 52), n_char = mcubert_rd32(blob + 56);
	uint32_t end = 0;

	if (map > total || n > (total - map) / 8u || seq > total || n_seq > (total - seq) / 4u ||
	    ctx > total || total - ctx < 256u || n_char < 2u || n_char > 255u ||
	    mcubert_rd32(blob + 60) == 0u || mcubert_rd32(blob + 60) > 255u) {
		return MCUBERT_ERR_LAYOUT;
	}
	for (uint32_t i = 0; i < 256u; i++) {
		if (blob[ctx + i] == 0u || blob[ctx + i] >= n_char) {
			return MCUBERT_ERR_LAYOUT;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t a = mcubert_rd32(blob + map + 8u * i), v = mcubert_rd32(blob + map + 8u * i + 4u);
		uint32_t start = a & 0x1FFFFFu, op = (a >> 21) & 3u, count = (a >> 23) + 1u;
		uint32_t last = start + count - 1u;

		if (start < end || last > 0x10FFFFu) {
			return MCUBERT_ERR_LAYOUT;
		}
		end = last + 1u;
		if (op == OP_SEQ) {
			uint32_t len;

			if (count != 1u || v >= n_seq || (len = mcubert_rd32(blob + seq + 4u * v)) == 0u ||
			    len > n_seq - v - 1u) {
				return MCUBERT_ERR_LAYOUT;
			}
			for (uint32_t k = 1; k <= len; k++) {
				uint32_t e = mcubert_rd32(blob + seq + 4u * (v + k));

				if ((e & 0x1FFFFFu) > 0x10FFFFu || (e >> 21) > CLS_SPACE) {
					return MCUBERT_ERR_LAYOUT;
				}
			}
		} else if (op == OP_CONST ? v > 0x10FFFFu
					  : (start + v > 0x10FFFFu || last + v > 0x10FFFFu)) {
			return MCUBERT_ERR_LAYOUT; /* deltas wrap: both ends in range */
		}
	}
	return MCUBERT_OK;
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
	if (blob_len < HEADER_SIZE + 4u * TABLE_WORDS * N_TABLES) {
		return MCUBERT_ERR_TRUNCATED;
	}
	if (mcubert_rd32(blob) != MCUBERT_TOKENIZE_MAGIC) {
		return MCUBERT_ERR_MAGIC;
	}
	if (mcubert_rd32(blob + 4) != MCUBERT_TOKENIZE_VERSION) {
		return MCUBERT_ERR_VERSION;
	}
	total = mcubert_rd32(blob + 8);
	if (total < HEADER_SIZE + 4u * TABLE_WORDS * N_TABLES || total > blob_len) {
		return MCUBERT_ERR_TRUNCATED;
	}
	if (mcubert_crc32(0, blob + 16, total - 16u) != mcubert_rd32(blob + 12)) {
		return MCUBERT_ERR_CRC;
	}
	/* the vocabulary and its map were made with these tables' classes */
	if (mcubert_rd32(blob + 32) != mcubert_unicode_version) {
		return MCUBERT_ERR_VERSION;
	}
	vocab = mcubert_rd32(blob + 16);
	if (vocab == 0u || vocab > MCUBERT_MAX_VOCAB || mcubert_rd32(blob + 20) >= vocab ||
	    mcubert_rd32(blob + 24) >= vocab || mcubert_rd32(blob + 28) >= vocab) {
		return MCUBERT_ERR_LAYOUT;
	}
	err = check_map(blob, total);
	for (uint32_t w = 0; w < N_TABLES && err == MCUBERT_OK; w++) {
		err = check_table(blob, total, w, vocab, scratch, scratch + MAX_TOKEN_BYTES);
	}
	if (err != MCUBERT_OK) {
		return err;
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

/*
 * The longest token of t that starts key[0..k): its length (0: none) and *id. Binary search
 * for the last block starting at or below the key, then a scan of it. The longest prefix is
 * the last prefix of the key at or below it in sorted order, and every token between a
 * prefix and the key starts with that prefix: so if this block has none, the prefix is no
 * longer than what the block's first token shares with the key, and the search repeats
 * with that much of the key.
 */
static uint32_t longest_prefix(const struct table *t, const uint8_t *key, uint32_t k,
			       uint8_t *buf, uint32_t *id)
{
	if (k > t->longest) {
		k = t->longest;
	}
	while (k > 0u) {
		uint32_t lo = 0, hi = t->blocks, m = 0, best = 0, e, count, n;
		struct bits b;

		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2u;

			if (compare_first(t, mid, key, k) <= 0) {
				lo = mid + 1u;
			} else {
				hi = mid;
			}
		}
		if (lo == 0u) {
			return 0;
		}
		n = (uint32_t)block_first(t, lo - 1u, buf, &b);
		while (m < n && m < k && buf[m] == key[m]) {
			m++;
		}
		e = (lo - 1u) << t->shift;
		count = t->n - e < (1u << t->shift) ? t->n - e : (1u << t->shift);
		/* p: bytes the current entry shares with the key; the front coding keeps it current */
		for (uint32_t i = 0, p = m;;) {
			uint32_t shared;

			if (p == n) { /* a prefix of the key (n <= k) */
				best = n;
				*id = entry_id(t, e + i);
				if (n == k) {
					break;
				}
			} else if (p == k || buf[p] > key[p]) {
				break; /* above the key: so is every later entry */
			}
			if (++i == count) {
				break;
			}
			n = (uint32_t)next_entry(t, &b, buf, n, 0, &shared);
			if (shared < p) {
				break; /* it rose above the previous entry where that one matched */
			}
			/* shared > p: it differs from the key where, and as, the previous one did */
			if (shared == p) {
				while (p < n && p < k && buf[p] == key[p]) {
					p++;
				}
			}
		}
		if (best > 0u) {
			return best;
		}
		k = m; /* m < k: the first token equal to the key would have matched */
	}
	return 0;
}

static void put(struct sink *s, uint32_t id)
{
	if (s->count < s->cap) {
		s->ids[s->count] = (uint16_t)id;
	}
	s->count++;
}

/* Greedy longest-match-first; a word with an unmatched rest is one [UNK]. */
static void wordpiece(const struct mcubert_vocab *v, const uint8_t *w, uint32_t bytes,
		      struct sink *s)
{
	struct table t;
	size_t mark = s->count;
	uint32_t start = 0;
	uint8_t *buf = v->scratch + WORD_BYTES;

	while (start < bytes) {
		uint32_t id = 0, n;

		get_table(v->blob, start == 0u ? TABLE_INITIAL : TABLE_CONT, &t);
		n = longest_prefix(&t, w + start, bytes - start, buf, &id);
		if (n == 0u && start == 0u) { /* single characters are the shortest tokens of all */
			get_table(v->blob, TABLE_SINGLE, &t);
			n = longest_prefix(&t, w, bytes, buf, &id);
		}
		if (n == 0u) {
			s->count = mark;
			put(s, v->unk);
			return;
		}
		put(s, id);
		start += n;
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
	if (cls == CLS_SPACE) {
		flush(v, w, s);
		return;
	}
	if (cls == CLS_PUNCT) {
		flush(v, w, s);
	}
	if (w->chars < MCUBERT_TOKENIZE_MAX_WORD_CHARS) {
		w->bytes += utf8_put(w->buf + w->bytes, cp);
	}
	if (w->chars <= MCUBERT_TOKENIZE_MAX_WORD_CHARS) {
		w->chars++;
	}
	if (cls == CLS_PUNCT) {
		flush(v, w, s);
	}
}

/* Class of cp: the run that holds it, the last one starting at or below it. */
static uint32_t class_of(uint32_t cp)
{
	uint32_t lo = 0, hi = mcubert_unicode_n_classes;

	while (hi - lo > 1u) {
		uint32_t mid = lo + (hi - lo) / 2u;

		if ((rd24(mcubert_unicode_classes[mid]) & 0x1FFFFFu) <= cp) {
			lo = mid;
		} else {
			hi = mid;
		}
	}
	return rd24(mcubert_unicode_classes[lo]) >> 21;
}

/* The map record holding cp, or NULL: the character stays itself. */
static const uint8_t *map_record(const uint8_t *blob, uint32_t cp)
{
	const uint8_t *map = blob + mcubert_rd32(blob + 36);
	uint32_t lo = 0, hi = mcubert_rd32(blob + 40), a;

	while (hi - lo > 1u) {
		uint32_t mid = lo + (hi - lo) / 2u;

		if ((mcubert_rd32(map + 8u * mid) & 0x1FFFFFu) <= cp) {
			lo = mid;
		} else {
			hi = mid;
		}
	}
	if (hi == 0u) {
		return NULL;
	}
	a = mcubert_rd32(map + 8u * lo);
	if (cp < (a & 0x1FFFFFu) || cp - (a & 0x1FFFFFu) > (a >> 23)) {
		return NULL;
	}
	return map + 8u * lo;
}

static void normalise(const struct mcubert_vocab *v, struct word *w, struct sink *s, uint32_t cp)
{
	uint32_t uc = class_of(cp), cls = uc == MCUBERT_UC_PUNCT ? CLS_PUNCT : CLS_LETTER;
	const uint8_t *r;

	if (uc == MCUBERT_UC_DROP) {
		return;
	}
	if (uc == MCUBERT_UC_SPACE) {
		flush(v, w, s);
		return;
	}
	if (uc == MCUBERT_UC_HANGUL) { /* L V [T] jamo */
		uint32_t k = cp - 0xAC00u;

		add(v, w, s, 0x1100u + k / 588u, CLS_LETTER);
		add(v, w, s, 0x1161u + (k % 588u) / 28u, CLS_LETTER);
		if (k % 28u) {
			add(v, w, s, 0x11A7u + k % 28u, CLS_LETTER);
		}
		return;
	}
	if (uc == MCUBERT_UC_CJK) {
		flush(v, w, s); /* BERT pads CJK ideographs with spaces */
	}
	r = map_record(v->blob, cp);
	if (r == NULL) {
		add(v, w, s, cp, cls);
	} else {
		uint32_t a = mcubert_rd32(r), value = mcubert_rd32(r + 4);
		uint32_t start = a & 0x1FFFFFu;

		switch ((a >> 21) & 3u) {
		case OP_DELTA:
			add(v, w, s, cp + value, cls); /* unsigned wrap-around: value may be negative */
			break;
		case OP_CONST:
			add(v, w, s, value, cls);
			break;
		case OP_STRIDE2:
			add(v, w, s, ((cp - start) & 1u) ? cp : cp + value, cls);
			break;
		default: { /* OP_SEQ */
			const uint8_t *q = v->blob + mcubert_rd32(v->blob + 44) + 4u * value;

			for (uint32_t i = 1; i <= mcubert_rd32(q); i++) {
				uint32_t e = mcubert_rd32(q + 4u * i);

				add(v, w, s, e & 0x1FFFFFu, e >> 21);
			}
			break;
		}
		}
	}
	if (uc == MCUBERT_UC_CJK) {
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
