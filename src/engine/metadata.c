/*
 * engine/metadata.c - run metadata change operations ([19]), applied the way
 * the server applies them: the route's zod parse of RunMetadataChangeOperation,
 * then applyMetadataOperations from @trigger.dev/core 4.5.0
 * (v3/runMetadata/operations.js), then JSON.stringify. The SDK runs the same
 * function on the client, so matching it quirk for quirk keeps both agreeing.
 */
#include "engine/metadata.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * What the SDK does, and so what this file does:
 *
 * - Operations are a union on type: update {value: object}, set/append/remove
 *   {key, value: JSON}, delete {key}, increment {key, value: number}. Any other
 *   type (there is no "decrement"; metadata.decrement() sends a negative
 *   increment) fails the parse, so the whole request is rejected. zod's record
 *   parse drops "__proto__" members: at every depth of a set/append/remove
 *   value, at the top level of an update value.
 * - A key not starting with "$." is one top-level member, taken literally.
 *   set assigns it; delete removes it; append pushes onto an array in place,
 *   makes [value] when the key is missing and [old, value] otherwise (null
 *   included); remove keeps the items not deep-equal (dequal) to value, and
 *   does nothing to a non-array; increment adds to a number, counting anything
 *   else (missing, string, ...) as 0; update replaces the whole object.
 * - A "$." key is a @jsonhero/path 1.0.21 path, emulated literally below:
 *   segments split on unescaped dots, "*" is a wildcard, "[a:b]" an array
 *   slice, digits index arrays. A path only writes where its parent already
 *   exists: missing parents are not created, and a null is never overwritten
 *   (the walk skips nulls). One value set through a wildcard is shared by all
 *   the places it went, as JS objects are.
 * - JS runtime errors thrown along the way (a wildcard reaching null, an
 *   invalid array length, a circular result) reject the request. We report
 *   them as ERR_INVALID where the server gives 500; the metadata is untouched.
 *
 * Known differences, none reachable by accident. Where the SDK's own code
 * lets a stored "__proto__" member redirect a write onto a prototype, we do
 * not follow: reading "__proto__" from an object without that member gives
 * undefined (JS: Object.prototype, which the SDK then pollutes), and
 * assigning an object to it is ignored (JS: the prototype is replaced). The
 * slice regex's lastIndex, shared by a whole server process, is assumed
 * clean when a call starts. Arrays past MD_MAX_ARRAY items, results past
 * MD_MAX_NODES values and calls past MD_MAX_WORK path results are refused
 * with ERR_TOO_LARGE.
 *
 * Cross-checked against the SDK under node: the unit tests' rows, and a
 * differential fuzz of random metadata and operations.
 */

enum {
    /* Results beyond these serialize to more than the 2 MiB a request may
     * carry ([19]), far past the metadata size limit, so they are refused
     * before they are built. */
    MD_MAX_ARRAY = 1 << 20,
    MD_MAX_NODES = 1 << 21,
    /* Stored metadata is read back with jansson, which refuses text nested
     * deeper than JSON_PARSER_MAX_DEPTH: a deeper result would be accepted
     * here and then read back as nothing, losing the whole metadata. The
     * slack covers the envelopes the text is later wrapped in. */
    MD_MAX_DEPTH = JSON_PARSER_MAX_DEPTH - 8,
    /* Path results visited and array items copied per call: a second or two
     * of work. The SDK has no bound, and a body of wildcard operations over a
     * long array could keep the server busy for hours. */
    MD_MAX_WORK = 1 << 23,
};

/* ---- allocation: failure aborts, here only ---------------------------- */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

static char *xstrdup(const char *s)
{
    return strcpy(xmalloc(strlen(s) + 1), s);
}

static json_t *must(json_t *v)
{
    if (!v)
        abort();
    return v;
}

/* jansson setters fail only on allocation or on arguments we never pass. */
static void must_ok(int rc)
{
    if (rc)
        abort();
}

/* A map from pointers to values, 0 for a pointer not seen before. */
typedef struct ptrmap {
    size_t n, cap;
    const void **key;
    uintptr_t *val;
} ptrmap;

static uintptr_t *ptrmap_at(ptrmap *m, const void *p)
{
    if (2 * (m->n + 1) > m->cap) {
        ptrmap t = {0, m->cap ? m->cap * 2 : 64, NULL, NULL};
        t.key = calloc(t.cap, sizeof *t.key);
        t.val = calloc(t.cap, sizeof *t.val);
        if (!t.key || !t.val)
            abort();
        for (size_t i = 0; i < m->cap; i++)
            if (m->key[i])
                *ptrmap_at(&t, m->key[i]) = m->val[i];
        free(m->key);
        free(m->val);
        *m = t;
    }
    size_t i = ((uintptr_t)p >> 4) * 11400714819323198485u & (m->cap - 1);
    while (m->key[i] && m->key[i] != p)
        i = (i + 1) & (m->cap - 1);
    if (!m->key[i]) {
        m->key[i] = p;
        m->n++;
    }
    return &m->val[i];
}

static void ptrmap_free(ptrmap *m)
{
    free(m->key);
    free(m->val);
}

/* ---- the JS value model ----------------------------------------------- */

/* The working tree is jansson plus a few JS values JSON cannot hold, each a
 * sentinel node owned by the context and compared by address. NULL stands for
 * undefined. The sentinels become what JSON.stringify writes at the end. */
typedef struct md_ctx {
    json_t *root;  /* newMetadata, owned */
    json_t *hole;  /* an array slot never written (a sparse array) */
    json_t *undef; /* an array element holding undefined */
    json_t *fn;    /* an inherited method, e.g. ({}).toString */
    json_t *ctor;  /* an inherited constructor: ({}).constructor, [].constructor */
    json_t *pinf;  /* Infinity, from an increment that overflowed */
    json_t *ninf;
    json_t *self;     /* a member that is its own container (jansson refuses o.k = o) */
    ptrmap props;     /* array -> object of its non-index properties (JSON drops them) */
    bool slice_dirty; /* see parse_component() */
    size_t work;      /* against MD_MAX_WORK */
    json_t **made;    /* every container of the working tree, one reference each */
    size_t nmade, capmade;
    size_t op; /* the operation being applied, for messages */
    const char *op_type;
    const char *op_key;
    err_t *e;
} md_ctx;

enum js_kind { JS_UNDEF, JS_NULL, JS_BOOL, JS_NUM, JS_STR, JS_ARR, JS_OBJ, JS_FN };

static enum js_kind js_kind(const md_ctx *c, const json_t *v)
{
    if (!v || v == c->hole || v == c->undef)
        return JS_UNDEF;
    if (v == c->fn || v == c->ctor)
        return JS_FN;
    if (v == c->pinf || v == c->ninf)
        return JS_NUM;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return JS_OBJ;
    case JSON_ARRAY:
        return JS_ARR;
    case JSON_STRING:
        return JS_STR;
    case JSON_INTEGER:
    case JSON_REAL:
        return JS_NUM;
    case JSON_TRUE:
    case JSON_FALSE:
        return JS_BOOL;
    default:
        return JS_NULL;
    }
}

static double js_num(const md_ctx *c, const json_t *v)
{
    if (v == c->pinf)
        return INFINITY;
    if (v == c->ninf)
        return -INFINITY;
    return json_number_value(v);
}

/* Member i of array a / member key of object o, as JS sees it (borrowed). */
static json_t *arr_at(const md_ctx *c, json_t *a, size_t i)
{
    json_t *v = json_array_get(a, i);
    return v == c->self ? a : v;
}

static json_t *obj_at(const md_ctx *c, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return v == c->self ? o : v;
}

/* A number as the tree holds it; a new reference. */
static json_t *js_make_num(md_ctx *c, double d)
{
    if (isnan(d))
        return json_null();
    if (isinf(d))
        return json_incref(d > 0 ? c->pinf : c->ninf);
    return must(json_real(d));
}

/* Reports a JS exception the SDK code would throw at this point. */
__attribute__((format(printf, 2, 3))) static int js_throw(md_ctx *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(c->e, ERR_INVALID, "operations[%zu] (%s \"%.64s\"): %s", c->op, c->op_type,
                   c->op_key ? c->op_key : "", msg);
}

static int too_large(md_ctx *c)
{
    return err_set(c->e, ERR_TOO_LARGE, "operations[%zu] (%s): the metadata would be too large",
                   c->op, c->op_type);
}

static int too_costly(md_ctx *c)
{
    return err_set(c->e, ERR_TOO_LARGE, "operations[%zu] (%s): too costly to apply", c->op,
                   c->op_type);
}

/* Registers v, a container new to the working tree, and returns it. The
 * tree may come to contain itself, as JS objects can (JSON.stringify then
 * throws, see find_cycle()); so that reference counts still free it, every
 * container is emptied when the call ends. */
static json_t *made(md_ctx *c, json_t *v)
{
    if (c->nmade == c->capmade) {
        c->capmade = c->capmade ? c->capmade * 2 : 64;
        c->made = xrealloc(c->made, c->capmade * sizeof *c->made);
    }
    c->made[c->nmade++] = json_incref(must(v));
    return v;
}

/* Registers every container of v, a fresh tree. */
static void made_tree(md_ctx *c, json_t *v)
{
    const char *key;
    json_t *x;
    size_t i;
    if (json_is_array(v)) {
        made(c, v);
        json_array_foreach(v, i, x)
        {
            made_tree(c, x);
        }
    } else if (json_is_object(v)) {
        made(c, v);
        json_object_foreach(v, key, x)
        {
            made_tree(c, x);
        }
    }
}

static void made_free(md_ctx *c)
{
    for (size_t i = 0; i < c->nmade; i++) {
        if (json_is_array(c->made[i]))
            json_array_clear(c->made[i]);
        else
            json_object_clear(c->made[i]);
        json_decref(c->made[i]);
    }
    free(c->made);
}

/* The object holding array a's non-index properties (a.x = 1 in JS), or
 * NULL when it has none and create is false. Borrowed. */
static json_t *arr_props(md_ctx *c, json_t *a, bool create)
{
    uintptr_t *slot = ptrmap_at(&c->props, a);
    if (!*slot && create) {
        json_t *props = made(c, json_object());
        json_decref(props); /* the registry's reference keeps it */
        *slot = (uintptr_t)props;
    }
    return (json_t *)*slot;
}

/* A canonical array index ("0", "17", at most 2^32-2), as JS property keys. */
static bool js_index(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    if (!*s || (s[0] == '0' && s[1]))
        return false;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || p - s >= 10)
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > 4294967294u)
        return false;
    if (out)
        *out = (uint32_t)v;
    return true;
}

static int cmp_index(const void *a, const void *b)
{
    uint32_t x = 0, y = 0;
    js_index(*(const char *const *)a, &x);
    js_index(*(const char *const *)b, &y);
    return (x > y) - (x < y);
}

/* An object's keys in JS property order: array indices ascending, then the
 * rest in insertion order. The strings are borrowed; the caller frees the
 * array. */
static const char **js_keys(json_t *o, size_t *n)
{
    const char **keys = xmalloc(json_object_size(o) * sizeof *keys);
    const char *key;
    json_t *v;
    size_t k = 0;
    json_object_foreach(o, key, v)
    {
        if (js_index(key, NULL))
            keys[k++] = key;
    }
    qsort(keys, k, sizeof *keys, cmp_index);
    json_object_foreach(o, key, v)
    {
        if (!js_index(key, NULL))
            keys[k++] = key;
    }
    *n = k;
    return keys;
}

static bool in_list(const char *k, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, names[i]) == 0)
            return true;
    return false;
}

/* Object.prototype's methods (constructor apart): what a plain object "has"
 * without own keys. */
static bool is_object_method(const char *k)
{
    static const char *const names[] = {
        "hasOwnProperty",   "isPrototypeOf",    "propertyIsEnumerable", "toString",
        "toLocaleString",   "valueOf",          "__defineGetter__",     "__defineSetter__",
        "__lookupGetter__", "__lookupSetter__",
    };
    return in_list(k, names, sizeof names / sizeof *names);
}

/* Array.prototype's methods (Node 20), on top of Object.prototype's. */
static bool is_array_method(const char *k)
{
    static const char *const names[] = {
        "at",          "concat",   "copyWithin", "entries",  "every",         "fill",
        "filter",      "find",     "findIndex",  "findLast", "findLastIndex", "flat",
        "flatMap",     "forEach",  "includes",   "indexOf",  "join",          "keys",
        "lastIndexOf", "map",      "pop",        "push",     "reduce",        "reduceRight",
        "reverse",     "shift",    "slice",      "some",     "sort",          "splice",
        "toReversed",  "toSorted", "toSpliced",  "unshift",  "values",        "with",
    };
    return in_list(k, names, sizeof names / sizeof *names) || is_object_method(k);
}

/* o[key] as JS reads it, for o an object or an array: a new reference, NULL
 * for undefined. */
static json_t *js_get(md_ctx *c, json_t *o, const char *key)
{
    uint32_t i;
    if (js_kind(c, o) == JS_OBJ) {
        json_t *v = obj_at(c, o, key);
        if (v)
            return json_incref(v);
        if (strcmp(key, "constructor") == 0)
            return json_incref(c->ctor);
        return is_object_method(key) ? json_incref(c->fn) : NULL;
    }
    if (js_kind(c, o) != JS_ARR)
        return NULL;
    if (js_index(key, &i)) {
        json_t *v = arr_at(c, o, i);
        return js_kind(c, v) == JS_UNDEF ? NULL : json_incref(v);
    }
    if (strcmp(key, "length") == 0)
        return must(json_integer((json_int_t)json_array_size(o)));
    json_t *props = arr_props(c, o, false), *v = props ? json_object_get(props, key) : NULL;
    if (v)
        return json_incref(v);
    if (strcmp(key, "constructor") == 0)
        return json_incref(c->ctor);
    return is_array_method(key) ? json_incref(c->fn) : NULL;
}

static bool js_truthy(const md_ctx *c, const json_t *v)
{
    switch (js_kind(c, v)) {
    case JS_UNDEF:
    case JS_NULL:
        return false;
    case JS_BOOL:
        return json_is_true(v);
    case JS_NUM:
        return js_num(c, v) != 0;
    case JS_STR:
        return json_string_length(v) > 0;
    default:
        return true;
    }
}

/* ---- ToNumber, for assignments to an array's length ------------------- */

/* Bytes of the UTF-8 character starting with byte b. */
static size_t utf8_len(unsigned char b)
{
    return b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
}

/* Bytes of JS white space (StrWhiteSpaceChar) at s, or 0. */
static size_t js_space(const unsigned char *s)
{
    static const char *const wide[] = {
        "\xc2\xa0",     "\xef\xbb\xbf", "\xe1\x9a\x80", "\xe2\x80\xa8",
        "\xe2\x80\xa9", "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80",
    };
    if (strchr(" \t\n\v\f\r", *s) && *s)
        return 1;
    if (s[0] == 0xe2 && s[1] == 0x80 && s[2] >= 0x80 && s[2] <= 0x8a)
        return 3; /* U+2000..U+200A */
    for (size_t i = 0; i < sizeof wide / sizeof *wide; i++)
        if (strncmp((const char *)s, wide[i], strlen(wide[i])) == 0)
            return strlen(wide[i]);
    return 0;
}

static bool all_digits(const char *s, const char *e, int base)
{
    if (s == e)
        return false;
    for (; s < e; s++) {
        int d = *s >= '0' && *s <= '9'   ? *s - '0'
                : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
                : *s >= 'A' && *s <= 'F' ? *s - 'A' + 10
                                         : 99;
        if (d >= base)
            return false;
    }
    return true;
}

/* JS StringToNumber. */
static double js_string_number(const char *str)
{
    const char *s = str, *e = str;
    size_t k;
    while ((k = js_space((const unsigned char *)s)))
        s += k;
    for (const char *p = s; *p;) { /* e: just past the last non-space */
        if ((k = js_space((const unsigned char *)p))) {
            p += k;
        } else {
            p += utf8_len((unsigned char)*p);
            e = p;
        }
    }
    size_t n = e > s ? (size_t)(e - s) : 0;
    char *t = memcpy(xmalloc(n + 1), s, n);
    t[n] = '\0';
    double d = NAN;
    const char *u = t + (*t == '+' || *t == '-');
    int base = t[0] == '0' && strchr("xX", t[1]) && t[1]   ? 16
               : t[0] == '0' && strchr("oO", t[1]) && t[1] ? 8
               : t[0] == '0' && strchr("bB", t[1]) && t[1] ? 2
                                                           : 10;
    if (n == 0) {
        d = 0;
    } else if (strcmp(u, "Infinity") == 0) {
        d = *t == '-' ? -INFINITY : INFINITY;
    } else if (base != 10) {
        if (all_digits(t + 2, t + n, base)) {
            d = 0;
            for (const char *p = t + 2; *p; p++)
                d = d * base + (double)(*p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10);
        }
    } else {
        /* [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)? */
        const char *p = u;
        size_t ip = strspn(p, "0123456789"), fp = 0;
        p += ip;
        if (*p == '.')
            p++, fp = strspn(p, "0123456789"), p += fp;
        bool ok = ip + fp > 0;
        if (ok && (*p == 'e' || *p == 'E')) {
            p++;
            p += (*p == '+' || *p == '-');
            size_t ep = strspn(p, "0123456789");
            ok = ep > 0;
            p += ep;
        }
        if (ok && *p == '\0')
            d = strtod(t, NULL);
    }
    free(t);
    return d;
}

/* JS ToNumber of a tree value. An array converts through its join, which
 * writes "" for an array already being joined. */
static double js_to_number(md_ctx *c, json_t *v)
{
    ptrmap joining = {0};
    while (js_kind(c, v) == JS_ARR && json_array_size(v) == 1 && !*ptrmap_at(&joining, v)) {
        *ptrmap_at(&joining, v) = 1;
        json_t *x = arr_at(c, v, 0);
        enum js_kind k = js_kind(c, x);
        /* [x] joins to String(x): "" for null and undefined, and text that
         * is no number for booleans, objects and functions */
        v = k == JS_NUM || k == JS_STR || k == JS_ARR ? x
            : k == JS_UNDEF || k == JS_NULL           ? NULL
                                                      : c->fn;
    }
    bool cyclic = js_kind(c, v) == JS_ARR && json_array_size(v) == 1;
    ptrmap_free(&joining);
    if (cyclic)
        return 0;
    switch (js_kind(c, v)) {
    case JS_UNDEF: /* only from [null] or [undefined] above */
    case JS_NULL:
        return 0;
    case JS_BOOL:
        return json_is_true(v) ? 1 : 0;
    case JS_NUM:
        return js_num(c, v);
    case JS_STR:
        return js_string_number(json_string_value(v));
    case JS_ARR:
        return json_array_size(v) == 0 ? 0 : NAN; /* a longer join has a comma */
    default:
        return NAN;
    }
}

/* ---- @jsonhero/path: parsing ------------------------------------------ */

enum pc_kind { PC_START, PC_KEY, PC_WILD, PC_SLICE };

typedef struct pcomp {
    enum pc_kind kind;
    char *key;    /* PC_KEY: the unescaped name, owned */
    double start; /* PC_SLICE */
    double end;   /* PC_SLICE, when has_end; NaN for "[1:-]" */
    bool has_end;
} pcomp;

/* A JSONHeroPath: components, the first always PC_START. */
typedef struct path {
    size_t n, cap;
    pcomp *c;
} path;

typedef struct sbuf {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void path_push(path *p, pcomp pc)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->c = xrealloc(p->c, p->cap * sizeof *p->c);
    }
    p->c[p->n++] = pc;
}

static path *path_root(void)
{
    path *p = xmalloc(sizeof *p);
    *p = (path){0};
    path_push(p, (pcomp){.kind = PC_START});
    return p;
}

static void path_free(path *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->c[i].key);
    free(p->c);
    free(p);
}

/* s with the pair from[0]from[1] replaced by `to`, left to right, everywhere
 * or only the first time, as String.prototype.replace does. Caller frees. */
static char *str_replace(const char *s, const char *from, char to, bool all)
{
    char *out = xmalloc(strlen(s) + 1), *o = out;
    bool done = false;
    for (size_t i = 0; s[i];) {
        if (!done && s[i] == from[0] && s[i + 1] == from[1]) {
            *o++ = to;
            i += 2;
            done = !all;
        } else {
            *o++ = s[i++];
        }
    }
    *o = '\0';
    return out;
}

/* SimpleKeyPathComponent.fromString: "\." -> ".", "\\" -> "\", then only the
 * first "~1" -> "/". Caller frees. */
static char *key_unescape(const char *seg)
{
    char *a = str_replace(seg, "\\.", '.', true);
    char *b = str_replace(a, "\\\\", '\\', true);
    char *k = str_replace(b, "~1", '/', false);
    free(a);
    free(b);
    return k;
}

/* Bytes of the character the regex `.` matches at s (no line terminators),
 * or 0. s is valid UTF-8. */
static size_t regex_dot_len(const unsigned char *s)
{
    if (!*s || *s == '\n' || *s == '\r')
        return 0;
    if (s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9))
        return 0;
    return utf8_len(*s);
}

/* SlicePathComponent's /^\[(?<startIndex>[0-9]*):(?<endIndex>\-?[0-9]*)?\]$/.
 * An optional group that could only match empty does not take part in a JS
 * match, so "[1:]" has no end; "[1:-]" has end parseInt("-"), NaN. */
static bool slice_match(const char *s, pcomp *pc)
{
    if (*s++ != '[')
        return false;
    size_t sd = strspn(s, "0123456789");
    const char *g = s + sd;
    if (*g != ':')
        return false;
    const char *ge = ++g;
    ge += *ge == '-';
    ge += strspn(ge, "0123456789");
    if (strcmp(ge, "]") != 0)
        return false;
    char *t = xstrdup(s);
    t[sd] = '\0';
    pc->start = sd ? strtod(t, NULL) : 0;
    pc->has_end = ge > g;
    t[ge - s] = '\0';
    pc->end = !pc->has_end ? 0 : ge - g == 1 && *g == '-' ? NAN : strtod(t + (g - s), NULL);
    free(t);
    return true;
}

/* PathBuilder.parseComponent. */
static pcomp parse_component(md_ctx *c, const char *seg)
{
    pcomp pc = {.kind = PC_KEY};
    if (strcmp(seg, "*") == 0) {
        pc.kind = PC_WILD;
        return pc;
    }
    /* The slice regex has the /g flag and lives in the class, so test() and
     * exec() leave lastIndex after a match: the next test(), whatever its
     * string, starts past the anchor, fails and resets it. Hence "[0:1]" right
     * after a slice is a plain key. */
    bool dirty = c->slice_dirty;
    c->slice_dirty = false;
    if (!dirty && slice_match(seg, &pc)) {
        c->slice_dirty = true;
        if (isfinite(pc.start)) { /* Number.isInteger(startIndex) */
            pc.kind = PC_SLICE;
            return pc;
        }
    }
    pc.key = key_unescape(seg);
    return pc;
}

/* JSONHeroPath's parser: the matches of /(?:[^\.\\]|\\.)+/g, a leading "$"
 * dropped, each one a component. A backslash that cannot pair with the next
 * character separates like a dot. Caller frees with path_free. */
static path *path_parse(md_ctx *c, const char *s)
{
    path *p = path_root();
    size_t len = strlen(s);
    char *seg = xmalloc(len + 1);
    bool first = true;
    for (size_t i = 0; i < len;) {
        size_t n = 0;
        while (i < len && s[i] != '.') {
            size_t k = 1;
            if (s[i] == '\\') {
                k = regex_dot_len((const unsigned char *)s + i + 1);
                if (!k)
                    break;
                k = k + 1 < len - i ? k + 1 : len - i;
            }
            memcpy(seg + n, s + i, k);
            n += k;
            i += k;
        }
        if (!n) {
            i++;
            continue;
        }
        seg[n] = '\0';
        if (!first || strcmp(seg, "$") != 0)
            path_push(p, parse_component(c, seg));
        first = false;
    }
    free(seg);
    return p;
}

/* A number as JS writes it, for the integers path strings carry. */
static void js_num_str(double d, char buf[40])
{
    if (isnan(d)) {
        strcpy(buf, "NaN");
    } else if (isinf(d)) {
        strcpy(buf, d > 0 ? "Infinity" : "-Infinity");
    } else if (fabs(d) < 1e21) {
        snprintf(buf, 40, "%.0f", d == 0 ? 0.0 : d);
    } else {
        for (int prec = 0; prec < 17; prec++) { /* shortest round trip, "1.5e+21" */
            snprintf(buf, 40, "%.*e", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
        char *e = strchr(buf, 'e'), *m = e;
        while (m > buf && m[-1] == '0')
            m--;
        if (m > buf && m[-1] == '.')
            m--;
        memmove(m, e, strlen(e) + 1);
    }
}

/* A component's toString(). Caller frees. */
static char *comp_str(const pcomp *pc)
{
    char a[40], b[40];
    sbuf s = {0};
    switch (pc->kind) {
    case PC_START:
        sb_str(&s, "$");
        break;
    case PC_WILD:
        sb_str(&s, "*");
        break;
    case PC_SLICE:
        js_num_str(pc->start, a);
        js_num_str(pc->end, b);
        sb_str(&s, "[");
        sb_str(&s, a);
        if (pc->has_end) {
            sb_str(&s, ":");
            sb_str(&s, b);
        }
        sb_str(&s, "]");
        break;
    case PC_KEY:
        sb_str(&s, "");
        for (const char *k = pc->key; *k; k++) /* only dots are escaped */
            sb_add(&s, *k == '.' ? "\\." : k, *k == '.' ? 2 : 1);
        break;
    }
    return s.s;
}

/* A name that its path string gives back unchanged when parsed again: not
 * empty, no backslash or "~1" to unescape, not "*" or a would-be slice. A
 * dot is allowed in a parsed name (it comes back escaped), not in a raw key. */
static bool plain_name(const char *k, bool raw)
{
    return *k && *k != '[' && strcmp(k, "*") != 0 && !strchr(k, '\\') && !strstr(k, "~1") &&
           !(raw && strchr(k, '.'));
}

/* JSONHeroPath.child(key): the path's string, ".", the raw key, parsed again.
 * A key holding a dot thus becomes two components, as in the SDK. */
static path *path_child(md_ctx *c, const path *p, const char *key)
{
    bool plain = plain_name(key, true);
    for (size_t i = 1; plain && i < p->n; i++)
        plain =
            p->c[i].kind == PC_WILD || (p->c[i].kind == PC_KEY && plain_name(p->c[i].key, false));
    if (plain) { /* the parse would give p plus key, the slice regex left clean */
        path *r = xmalloc(sizeof *r);
        *r = (path){0};
        for (size_t i = 0; i < p->n; i++) {
            pcomp pc = p->c[i];
            pc.key = pc.key ? xstrdup(pc.key) : NULL;
            path_push(r, pc);
        }
        path_push(r, (pcomp){.kind = PC_KEY, .key = xstrdup(key)});
        c->slice_dirty = false;
        return r;
    }
    sbuf s = {0};
    for (size_t i = 0; i < p->n; i++) {
        char *t = comp_str(&p->c[i]);
        if (i)
            sb_str(&s, ".");
        sb_str(&s, t);
        free(t);
    }
    sb_str(&s, ".");
    sb_str(&s, key);
    path *r = path_parse(c, s.s);
    free(s.s);
    return r;
}

/* JSONHeroPath.parent: NULL for the root. Caller frees. */
static path *path_parent(const path *p)
{
    if (p->n <= 1)
        return NULL;
    path *r = xmalloc(sizeof *r);
    *r = (path){0};
    for (size_t i = 0; i + 1 < p->n; i++) {
        pcomp pc = p->c[i];
        pc.key = pc.key ? xstrdup(pc.key) : NULL;
        path_push(r, pc);
    }
    return r;
}

/* ---- @jsonhero/path: queries ------------------------------------------ */

/* A QueryResult: depth counts the wildcards and slices passed. */
typedef struct qres {
    int depth;
    path *p;   /* owned */
    json_t *v; /* owned reference; NULL for undefined */
} qres;

typedef struct qlist {
    size_t n, cap;
    qres *r;
} qlist;

static void ql_push(md_ctx *c, qlist *l, int depth, path *p, json_t *v)
{
    c->work++;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->r = xrealloc(l->r, l->cap * sizeof *l->r);
    }
    l->r[l->n++] = (qres){depth, p, v};
}

static void ql_free(qlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        path_free(l->r[i].p);
        json_decref(l->r[i].v);
    }
    free(l->r);
    *l = (qlist){0};
}

/* SimpleKeyPathComponent.query: only typeof "object" values are looked
 * into, a JS null throws, and a null found is dropped (undefined is kept). */
static int q_key(md_ctx *c, const qlist *in, const char *key, qlist *out)
{
    for (size_t i = 0; i < in->n; i++) {
        const qres *r = &in->r[i];
        enum js_kind k = js_kind(c, r->v);
        if (k == JS_NULL)
            return js_throw(c, "Cannot read properties of null (reading '%.64s')", key);
        if (k != JS_OBJ && k != JS_ARR)
            continue;
        json_t *v = js_get(c, r->v, key);
        if (js_kind(c, v) == JS_NULL) {
            json_decref(v);
            continue;
        }
        ql_push(c, out, r->depth, path_child(c, r->p, key), v);
    }
    return 0;
}

/* WildcardPathComponent.query: for...in over objects and arrays (holes
 * skipped), nulls included. */
static void q_wild(md_ctx *c, const qlist *in, qlist *out)
{
    char idx[24];
    for (size_t i = 0; i < in->n; i++) {
        const qres *r = &in->r[i];
        if (js_kind(c, r->v) == JS_OBJ) {
            size_t n;
            const char **keys = js_keys(r->v, &n);
            for (size_t j = 0; j < n; j++)
                ql_push(c, out, r->depth + 1, path_child(c, r->p, keys[j]),
                        json_incref(obj_at(c, r->v, keys[j])));
            free(keys);
        } else if (js_kind(c, r->v) == JS_ARR) {
            for (size_t j = 0; j < json_array_size(r->v); j++) {
                json_t *v = arr_at(c, r->v, j);
                if (v == c->hole)
                    continue;
                snprintf(idx, sizeof idx, "%zu", j);
                ql_push(c, out, r->depth + 1, path_child(c, r->p, idx),
                        v == c->undef ? NULL : json_incref(v));
            }
            json_t *props = arr_props(c, r->v, false), *pv;
            const char *key;
            /* then its other properties, in insertion order */
            json_object_foreach(props, key, pv)
            {
                ql_push(c, out, r->depth + 1, path_child(c, r->p, key), json_incref(pv));
            }
        }
    }
}

/* SlicePathComponent.query: Array.prototype.slice semantics. */
static void q_slice(md_ctx *c, const qlist *in, const pcomp *pc, qlist *out)
{
    char idx[40];
    for (size_t i = 0; i < in->n; i++) {
        const qres *r = &in->r[i];
        if (js_kind(c, r->v) != JS_ARR)
            continue;
        double len = (double)json_array_size(r->v);
        double to = !pc->has_end     ? len
                    : isnan(pc->end) ? 0
                    : pc->end < 0    ? fmax(len + pc->end, 0)
                                     : fmin(pc->end, len);
        for (double k = fmin(pc->start, len); k < to; k++) {
            json_t *v = arr_at(c, r->v, (size_t)k);
            js_num_str(k, idx);
            ql_push(c, out, r->depth + 1, path_child(c, r->p, idx),
                    js_kind(c, v) == JS_UNDEF ? NULL : json_incref(v));
        }
    }
}

/* Array.prototype.flat(depth) into out: holes dropped. */
static void js_flat_into(md_ctx *c, json_t *out, json_t *a, int depth)
{
    c->work += json_array_size(a);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *v = arr_at(c, a, i);
        if (v == c->hole)
            continue;
        if (depth > 0 && js_kind(c, v) == JS_ARR)
            js_flat_into(c, out, v, depth - 1);
        else
            must_ok(json_array_append(out, v));
    }
}

/* JSONHeroPath.all() for a path other than the root: the results in *out
 * (caller frees with ql_free), arrays found past a wildcard flattened. */
static int path_all(md_ctx *c, const path *p, qlist *out)
{
    qlist cur = {0}, next = {0};
    int rc = 0;
    ql_push(c, &cur, 0, path_root(), json_incref(c->root));
    for (size_t i = 0; i < p->n && cur.n; i++) {
        const pcomp *pc = &p->c[i];
        if (pc->kind == PC_START)
            continue;
        if (pc->kind == PC_KEY)
            rc = q_key(c, &cur, pc->key, &next);
        else if (pc->kind == PC_WILD)
            q_wild(c, &cur, &next);
        else
            q_slice(c, &cur, pc, &next);
        ql_free(&cur);
        cur = next;
        next = (qlist){0};
        if (!rc && c->work > MD_MAX_WORK)
            rc = too_costly(c);
        if (rc)
            goto out;
    }
    for (size_t i = 0; i < cur.n; i++) {
        qres *r = &cur.r[i];
        if (r->depth > 0 && js_kind(c, r->v) == JS_ARR) {
            json_t *flat = made(c, json_array());
            js_flat_into(c, flat, r->v, r->depth);
            json_decref(r->v);
            r->v = flat;
        }
    }
out:
    if (rc)
        ql_free(&cur);
    *out = cur;
    return rc;
}

/* JSONHeroPath.first(): a new reference to the first result, JS null when
 * there is none, NULL for undefined. */
static int path_first(md_ctx *c, const path *p, json_t **out)
{
    qlist l;
    *out = NULL;
    if (p->n == 1) {
        *out = json_incref(c->root);
        return 0;
    }
    int rc = path_all(c, p, &l);
    if (rc)
        return rc;
    if (l.n) {
        *out = l.r[0].v;
        l.r[0].v = NULL;
    } else {
        *out = json_null();
    }
    ql_free(&l);
    return 0;
}

/* ---- writes ----------------------------------------------------------- */

static int arr_put(md_ctx *c, json_t *a, size_t i, json_t *v)
{
    if (i < json_array_size(a)) {
        must_ok(json_array_set(a, i, v));
        return 0;
    }
    if (i >= MD_MAX_ARRAY)
        return too_large(c);
    while (json_array_size(a) < i)
        must_ok(json_array_append(a, c->hole));
    must_ok(json_array_append(a, v));
    return 0;
}

/* ArraySetLength: v must convert to a uint32; extending leaves holes. */
static int arr_set_length(md_ctx *c, json_t *a, json_t *v)
{
    double d = js_to_number(c, v);
    if (!(d >= 0 && d <= 4294967295.0 && d == floor(d)))
        return js_throw(c, "Invalid array length");
    if (d > MD_MAX_ARRAY)
        return too_large(c);
    size_t n = (size_t)d;
    while (json_array_size(a) > n)
        must_ok(json_array_remove(a, json_array_size(a) - 1));
    while (json_array_size(a) < n)
        must_ok(json_array_append(a, c->hole));
    return 0;
}

/* o[key] = v in strict mode (the SDK's compiled code is). v is borrowed. */
static int js_put(md_ctx *c, json_t *o, const char *key, json_t *v)
{
    static const char *const names[] = {
        [JS_BOOL] = "boolean", [JS_NUM] = "number", [JS_STR] = "string"};
    enum js_kind k = js_kind(c, o);
    uint32_t i;
    if ((k == JS_ARR || (k == JS_OBJ && !json_object_get(o, key))) &&
        strcmp(key, "__proto__") == 0) {
        /* Object.prototype's __proto__ setter: only v == o is caught here;
         * other objects would become the prototype, which is not modelled. */
        if (v == o)
            return js_throw(c, "Cyclic __proto__ value");
        return 0;
    }
    switch (k) {
    case JS_UNDEF:
    case JS_NULL:
        return js_throw(c, "Cannot set properties of %s (setting '%.64s')",
                        k == JS_NULL ? "null" : "undefined", key);
    case JS_FN: /* other properties of a function are never read back */
        if (strcmp(key, "length") == 0 || strcmp(key, "name") == 0 ||
            (o == c->ctor && strcmp(key, "prototype") == 0))
            return js_throw(c, "Cannot assign to read only property '%s' of function", key);
        if (strcmp(key, "arguments") == 0 || strcmp(key, "caller") == 0)
            return js_throw(c, "'caller', 'callee', and 'arguments' properties may not be "
                               "accessed on strict mode functions");
        return 0;
    case JS_OBJ:
        must_ok(json_object_set(o, key, v == o ? c->self : v));
        return 0;
    case JS_ARR:
        if (js_index(key, &i))
            return arr_put(c, o, i, v == o ? c->self : v);
        if (strcmp(key, "length") == 0)
            return arr_set_length(c, o, v);
        must_ok(json_object_set(arr_props(c, o, true), key, v)); /* JSON drops it */
        return 0;
    default:
        return js_throw(c, "Cannot create property '%.64s' on %s", key, names[k]);
    }
}

/* JSONHeroPath.set() on the root path: all() then gives [metadata] without
 * paths, and set() reads the missing path off the metadata itself. It throws
 * unless metadata.path is a non-null value without a parent and without a
 * truthy lastComponent, in which case nothing happens. */
static int root_set(md_ctx *c)
{
    json_t *path = obj_at(c, c->root, "path");
    enum js_kind k = js_kind(c, path);
    if (k == JS_UNDEF || k == JS_NULL)
        return js_throw(c, "Cannot read properties of %s (reading 'parent')",
                        k == JS_NULL ? "null" : "undefined");
    json_t *parent = js_get(c, path, "parent"), *last = js_get(c, path, "lastComponent");
    enum js_kind pk = js_kind(c, parent);
    int rc = 0;
    if (pk != JS_UNDEF && pk != JS_NULL)
        rc = js_throw(c, "parentPath.first is not a function");
    else if (js_truthy(c, last))
        rc = js_throw(c, "Cannot set properties of undefined");
    json_decref(parent);
    json_decref(last);
    return rc;
}

/* JSONHeroPath.set(): v (borrowed, shared, not copied) goes to every result,
 * each parent looked up again from the root. */
static int path_set(md_ctx *c, const path *p, json_t *v)
{
    qlist l;
    if (p->n == 1)
        return root_set(c);
    int rc = path_all(c, p, &l);
    for (size_t i = 0; !rc && i < l.n; i++) {
        const path *rp = l.r[i].p;
        path *parent = path_parent(rp);
        json_t *po = NULL;
        if (parent)
            rc = path_first(c, parent, &po);
        if (!rc) {
            char *last = comp_str(&rp->c[rp->n - 1]);
            rc = js_put(c, po, last, v);
            free(last);
        }
        json_decref(po);
        path_free(parent);
    }
    ql_free(&l);
    return rc;
}

/* ---- the operations --------------------------------------------------- */

static bool js_strict_equal(md_ctx *c, json_t *a, json_t *b)
{
    enum js_kind ka = js_kind(c, a), kb = js_kind(c, b);
    if (ka != kb)
        return false;
    switch (ka) {
    case JS_UNDEF:
    case JS_NULL:
        return true;
    case JS_BOOL:
        return json_is_true(a) == json_is_true(b);
    case JS_NUM:
        return js_num(c, a) == js_num(c, b);
    case JS_STR:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    default:
        return a == b;
    }
}

/* dequal(a, b) (dequal 2.0.3) for tree values: numbers by value, arrays item
 * by item, objects by own keys in any order. Objects must also have the same
 * constructor: an own "constructor" member on either side is compared with
 * ===, so two equal object-valued ones still differ. */
static bool js_dequal(md_ctx *c, json_t *a, json_t *b)
{
    if (js_strict_equal(c, a, b))
        return true;
    enum js_kind k = js_kind(c, a);
    if (k != js_kind(c, b))
        return false;
    if (k == JS_ARR) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++) {
            json_t *x = arr_at(c, a, i), *y = arr_at(c, b, i);
            if (!js_dequal(c, js_kind(c, x) == JS_UNDEF ? NULL : x,
                           js_kind(c, y) == JS_UNDEF ? NULL : y))
                return false;
        }
        return true;
    }
    if (k != JS_OBJ)
        return false;
    json_t *ca = obj_at(c, a, "constructor"), *cb = obj_at(c, b, "constructor");
    if ((ca || cb) && !(ca && cb && js_strict_equal(c, ca, cb)))
        return false;
    if (json_object_size(a) != json_object_size(b))
        return false;
    const char *key;
    json_t *x;
    json_object_foreach(a, key, x)
    {
        json_t *y = obj_at(c, b, key);
        if (!y || !js_dequal(c, x == c->self ? a : x, y))
            return false;
    }
    return true;
}

/* currentValue.filter((item) => !dequal(item, value)): holes dropped. */
static json_t *js_filter_out(md_ctx *c, json_t *a, json_t *value)
{
    json_t *out = made(c, json_array());
    c->work += json_array_size(a);
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *v = arr_at(c, a, i);
        if (v != c->hole && !js_dequal(c, v == c->undef ? NULL : v, value))
            must_ok(json_array_append(out, v));
    }
    return out;
}

static bool is_path(const char *key)
{
    return strncmp(key, "$.", 2) == 0;
}

static int op_set(md_ctx *c, const char *key, json_t *value)
{
    if (!is_path(key)) {
        must_ok(json_object_set(c->root, key, value));
        return 0;
    }
    path *p = path_parse(c, key);
    int rc = path_set(c, p, value);
    path_free(p);
    return rc;
}

static int op_append(md_ctx *c, const char *key, json_t *value)
{
    json_t *cur = NULL, *arr = NULL;
    path *p = NULL;
    int rc = 0;
    if (!is_path(key)) {
        cur = js_get(c, c->root, key);
        if (js_kind(c, cur) == JS_ARR) {
            must_ok(json_array_append(cur, value)); /* push, in place */
            goto out;
        }
        arr = made(c, cur ? json_pack("[OO]", cur, value) : json_pack("[O]", value));
        must_ok(json_object_set(c->root, key, arr));
        goto out;
    }
    p = path_parse(c, key);
    if ((rc = path_first(c, p, &cur)))
        goto out;
    if (js_kind(c, cur) == JS_ARR) { /* [...currentValue, value]: holes read as undefined */
        arr = made(c, json_array());
        c->work += json_array_size(cur);
        for (size_t i = 0; i < json_array_size(cur); i++) {
            json_t *v = arr_at(c, cur, i);
            must_ok(json_array_append(arr, v == c->hole ? c->undef : v));
        }
        must_ok(json_array_append(arr, value));
    } else {
        arr = made(c, cur ? json_pack("[OO]", cur, value) : json_pack("[O]", value));
    }
    rc = path_set(c, p, arr);
out:
    json_decref(cur);
    json_decref(arr);
    path_free(p);
    return rc;
}

static int op_remove(md_ctx *c, const char *key, json_t *value)
{
    json_t *cur = NULL, *arr = NULL;
    path *p = NULL;
    int rc = 0;
    if (!is_path(key)) {
        cur = js_get(c, c->root, key);
        if (js_kind(c, cur) == JS_ARR) {
            arr = js_filter_out(c, cur, value);
            must_ok(json_object_set(c->root, key, arr));
        }
        goto out; /* not an array: left unapplied */
    }
    p = path_parse(c, key);
    if ((rc = path_first(c, p, &cur)))
        goto out;
    if (js_kind(c, cur) == JS_ARR) {
        arr = js_filter_out(c, cur, value);
        rc = path_set(c, p, arr);
    }
out:
    json_decref(cur);
    json_decref(arr);
    path_free(p);
    return rc;
}

static int op_increment(md_ctx *c, const char *key, json_t *value)
{
    json_t *cur = NULL, *num = NULL;
    int rc = 0;
    if (!is_path(key)) {
        cur = js_get(c, c->root, key);
    } else {
        path *p = path_parse(c, key);
        rc = path_first(c, p, &cur);
        path_free(p);
        if (rc)
            goto out;
    }
    double base = js_kind(c, cur) == JS_NUM ? js_num(c, cur) : 0;
    num = js_make_num(c, base + json_number_value(value));
    if (!is_path(key)) {
        must_ok(json_object_set(c->root, key, num));
    } else {
        path *p = path_parse(c, key); /* the SDK parses the path again */
        rc = path_set(c, p, num);
        path_free(p);
    }
out:
    json_decref(cur);
    json_decref(num);
    return rc;
}

/* Applies one operation; value is its parsed value (see op_parse). */
static int op_apply(md_ctx *c, json_t *op, json_t *value)
{
    const char *type = json_string_value(json_object_get(op, "type"));
    const char *key = json_string_value(json_object_get(op, "key"));
    c->op_type = type;
    c->op_key = key;
    if (strcmp(type, "update") == 0) {
        json_decref(c->root);
        c->root = json_incref(value);
        return 0;
    }
    if (strcmp(type, "set") == 0)
        return op_set(c, key, value);
    if (strcmp(type, "delete") == 0) {
        json_object_del(c->root, key); /* top level only, even for "$." keys */
        return 0;
    }
    if (strcmp(type, "append") == 0)
        return op_append(c, key, value);
    if (strcmp(type, "remove") == 0)
        return op_remove(c, key, value);
    return op_increment(c, key, value);
}

/* ---- the route's parse ------------------------------------------------ */

static bool forbidden(const char *k)
{
    return strcmp(k, "__proto__") == 0 || strcmp(k, "constructor") == 0 ||
           strcmp(k, "prototype") == 0;
}

/* Rejects a forbidden key, or a "$." path with a forbidden member name in
 * it (the way into Object.prototype in the SDK's own code). */
static int check_key(const char *key, size_t i, err_t *e)
{
    const char *bad = forbidden(key) ? key : NULL;
    path *p = NULL;
    if (!bad && is_path(key)) {
        md_ctx scratch = {0};
        p = path_parse(&scratch, key);
        for (size_t j = 0; j < p->n && !bad; j++)
            if (p->c[j].kind == PC_KEY && forbidden(p->c[j].key))
                bad = p->c[j].key;
    }
    int rc = bad ? err_set(e, ERR_INVALID,
                           "operations[%zu].key: \"%s\" is not allowed in a metadata key", i, bad)
                 : 0;
    path_free(p);
    return rc;
}

/* DeserializedJsonSchema's parse result: a copy without "__proto__" members,
 * at any depth (zod's record parse drops them). */
static json_t *copy_value(json_t *v)
{
    const char *key;
    json_t *x, *out;
    size_t i;
    if (json_is_object(v)) {
        out = must(json_object());
        json_object_foreach(v, key, x)
        {
            if (strcmp(key, "__proto__") != 0)
                must_ok(json_object_set_new(out, key, copy_value(x)));
        }
    } else if (json_is_array(v)) {
        out = must(json_array());
        json_array_foreach(v, i, x)
        {
            must_ok(json_array_append_new(out, copy_value(x)));
        }
    } else {
        out = must(json_deep_copy(v));
    }
    return out;
}

/* RunMetadataChangeOperation's parse: *value gets what the operation carries
 * after it (a new reference; NULL for delete). */
static int op_parse(json_t *op, size_t i, json_t **value, err_t *e)
{
    enum { UPDATE, SET, DELETE, APPEND, REMOVE, INCREMENT, NTYPES };
    static const char *const types[] = {"update", "set", "delete", "append", "remove", "increment"};
    *value = NULL;
    if (!json_is_object(op))
        return err_set(e, ERR_INVALID, "operations[%zu]: expected an object", i);
    const char *type = json_string_value(json_object_get(op, "type"));
    int t = 0;
    while (type && t < NTYPES && strcmp(type, types[t]) != 0)
        t++;
    if (!type || t == NTYPES)
        return err_set(e, ERR_INVALID,
                       "operations[%zu].type: invalid discriminator value, expected 'update' | "
                       "'set' | 'delete' | 'append' | 'remove' | 'increment'",
                       i);
    json_t *v = json_object_get(op, "value");
    if (t == UPDATE) {
        if (!json_is_object(v))
            return err_set(e, ERR_INVALID, "operations[%zu].value: expected an object", i);
        json_t *out = must(json_object());
        const char *key;
        json_t *x;
        /* z.record(z.unknown()): "__proto__" dropped at the top level only */
        json_object_foreach(v, key, x)
        {
            if (strcmp(key, "__proto__") != 0)
                must_ok(json_object_set_new(out, key, must(json_deep_copy(x))));
        }
        *value = out;
        return 0;
    }
    json_t *key = json_object_get(op, "key");
    if (!json_is_string(key))
        return err_set(e, ERR_INVALID, "operations[%zu].key: expected a string", i);
    int rc = check_key(json_string_value(key), i, e);
    if (rc || t == DELETE)
        return rc;
    if (t == INCREMENT && !json_is_number(v))
        return err_set(e, ERR_INVALID, "operations[%zu].value: expected a number", i);
    if (!v)
        return err_set(e, ERR_INVALID, "operations[%zu].value: required", i);
    *value = t == INCREMENT ? json_incref(v) : copy_value(v);
    return 0;
}

/* ---- JSON.stringify --------------------------------------------------- */

/* JSON.stringify throws on a value inside itself. color: 1 while v's members
 * are being visited, 2 once they all were (shared values are visited once). */
static int find_cycle(md_ctx *c, json_t *v, ptrmap *color, int depth)
{
    enum js_kind k = js_kind(c, v);
    const char *key;
    json_t *x;
    size_t i;
    int rc = 0;
    if (k != JS_ARR && k != JS_OBJ)
        return 0;
    uintptr_t *col = ptrmap_at(color, v);
    if (*col == 1)
        return err_set(c->e, ERR_INVALID,
                       "Converting circular structure to JSON: the "
                       "operations make the metadata contain itself");
    if (*col == 2)
        return 0;
    if (depth > MD_MAX_DEPTH)
        return err_set(c->e, ERR_INVALID, "metadata is nested too deeply");
    *col = 1;
    if (k == JS_ARR) {
        json_array_foreach(v, i, x)
        {
            if ((rc = find_cycle(c, x == c->self ? v : x, color, depth + 1)))
                return rc;
        }
    } else {
        json_object_foreach(v, key, x)
        {
            if ((rc = find_cycle(c, x == c->self ? v : x, color, depth + 1)))
                return rc;
        }
    }
    *ptrmap_at(color, v) = 2; /* col may have moved */
    return 0;
}

/* A number as JSON.stringify leaves it: a double, integral ones as integers,
 * non-finite ones null. A new reference. */
static json_t *json_number_js(double d)
{
    if (!isfinite(d))
        return json_null();
    if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
        return must(json_integer((json_int_t)d));
    return must(json_real(d));
}

/* The JSON text the SDK would store, as a fresh tree with nothing shared:
 * undefined and functions dropped from objects and null in arrays, keys in
 * JS order. */
static int js_to_json(md_ctx *c, json_t *v, int depth, size_t *nodes, json_t **out)
{
    int rc = 0;
    *out = NULL;
    if (++*nodes > MD_MAX_NODES)
        return too_large(c);
    if (depth > MD_MAX_DEPTH)
        return err_set(c->e, ERR_INVALID, "metadata is nested too deeply");
    switch (js_kind(c, v)) {
    case JS_NUM:
        *out = json_number_js(v == c->pinf         ? INFINITY
                              : v == c->ninf       ? -INFINITY
                              : json_is_integer(v) ? (double)json_integer_value(v)
                                                   : json_real_value(v));
        return 0;
    case JS_ARR:
        *out = must(json_array());
        for (size_t i = 0; !rc && i < json_array_size(v); i++) {
            json_t *x = arr_at(c, v, i), *y = NULL;
            enum js_kind k = js_kind(c, x);
            if (k != JS_UNDEF && k != JS_FN)
                rc = js_to_json(c, x, depth + 1, nodes, &y);
            if (!rc)
                must_ok(json_array_append_new(*out, y ? y : json_null()));
        }
        break;
    case JS_OBJ: {
        size_t n;
        const char **keys = js_keys(v, &n);
        *out = must(json_object());
        for (size_t i = 0; !rc && i < n; i++) {
            json_t *x = obj_at(c, v, keys[i]), *y;
            enum js_kind k = js_kind(c, x);
            if (k == JS_UNDEF || k == JS_FN)
                continue;
            if (!(rc = js_to_json(c, x, depth + 1, nodes, &y)))
                must_ok(json_object_set_new(*out, keys[i], y));
        }
        free(keys);
        break;
    }
    case JS_UNDEF:
    case JS_FN:
        *out = json_null();
        return 0;
    default:
        *out = must(json_deep_copy(v));
        return 0;
    }
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- entry point ------------------------------------------------------ */

int metadata_apply(json_t *metadata, json_t *operations, err_t *e)
{
    md_ctx c = {.e = e};
    ptrmap color = {0};
    json_t **values = NULL, *result = NULL;
    size_t n = json_array_size(operations), nodes = 0;
    int rc = 0;

    if (!json_is_object(metadata))
        return err_set(e, ERR_INVALID, "metadata must be an object");
    if (!operations)
        return 0;
    if (!json_is_array(operations))
        return err_set(e, ERR_INVALID, "operations must be an array");
    if (!n)
        return 0;

    /* The whole request is parsed before anything is applied. */
    values = xmalloc(n * sizeof *values);
    memset(values, 0, n * sizeof *values);
    for (size_t i = 0; i < n; i++)
        if ((rc = op_parse(json_array_get(operations, i), i, &values[i], e)))
            goto out;

    c.hole = must(json_object());
    c.undef = must(json_object());
    c.fn = must(json_object());
    c.ctor = must(json_object());
    c.pinf = must(json_object());
    c.ninf = must(json_object());
    c.self = must(json_object());
    c.root = must(json_deep_copy(metadata)); /* structuredClone(currentMetadata) */
    made_tree(&c, c.root);
    for (size_t i = 0; i < n; i++)
        made_tree(&c, values[i]);
    for (size_t i = 0; i < n; i++) {
        c.op = i;
        if ((rc = op_apply(&c, json_array_get(operations, i), values[i])))
            goto out;
        if (c.work > MD_MAX_WORK && (rc = too_costly(&c)))
            goto out;
    }
    if ((rc = find_cycle(&c, c.root, &color, 0)) ||
        (rc = js_to_json(&c, c.root, 0, &nodes, &result)))
        goto out;
    json_object_clear(metadata);
    must_ok(json_object_update(metadata, result));

out:
    for (size_t i = 0; values && i < n; i++)
        json_decref(values[i]);
    free(values);
    json_decref(result);
    json_decref(c.root);
    made_free(&c);
    ptrmap_free(&c.props);
    ptrmap_free(&color);
    json_decref(c.hole);
    json_decref(c.undef);
    json_decref(c.fn);
    json_decref(c.ctor);
    json_decref(c.pinf);
    json_decref(c.ninf);
    json_decref(c.self);
    return rc;
}
