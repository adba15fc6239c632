/* The host's hot ring loops, compiled: `ringc.runtime._rings` (docs/device-program.md,
 * "Queues"; the readable reference is the pure-Python code in rings.py).
 *
 * One type, `Ring`, over one ring of the arena. It keeps the arena's buffer (the buffer
 * protocol: a writable, C-contiguous, little-endian uint8 array) for its lifetime and is
 * given every offset by Python (the ring's, and the slot header's from ringc/protocol.py), so
 * no layout constant is repeated here.
 *
 * The protocol is rings.py's exactly: a slot is free at `pos` when `seq == pos`; the host
 * writes the header words and the payload, fences, stores the `seq` words, fences, stores the
 * counter. The host is the only producer of ingress rings and the only consumer of the host
 * output and dead-letter queues, so every store is a plain store: the counters and `seq`
 * words go through relaxed __atomic stores (one aligned 32-bit store each, never torn, never
 * a read-modify-write), the rest through memcpy. Fences are __atomic_thread_fence: acquire
 * after reading `seq` words (before the payload is read or overwritten), release before
 * publishing (`seq`, then the counter). On x86 both are compiler barriers only, as
 * rings.publish_fence is a no-op there.
 *
 * Limits: GCC or Clang (the __atomic builtins), a little-endian host (the arena is
 * little-endian; elsewhere this file does not compile and the optional build leaves the
 * pure-Python path). A method given anything but the common case (a non-int argument, an
 * int out of its word's range, a payload that does not fit the slot, correlations that are
 * not a 1-d 8-byte unsigned array long enough, ...) returns NotImplemented before touching the
 * arena, and rings.py then runs the reference code, which gives the same result or error.
 * The GIL is held throughout: the loops are short (a ring's capacity at most) and the
 * runtime serializes them under its own lock anyway.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if !defined(__GNUC__)
#error "ringc.runtime._rings needs GCC or Clang (__atomic builtins); the pure-Python path runs"
#endif
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ringc.runtime._rings assumes a little-endian host; the pure-Python path runs"
#endif

typedef struct {
    PyObject_HEAD
    Py_buffer arena;            /* held while the object lives: `base` stays valid */
    char *base;
    Py_ssize_t head_offset, tail_offset, slots_offset, slot_size, payload_offset;
    uint32_t capacity, mask;
    Py_ssize_t seq_at, type_at, source_at, flags_at, corr_at, ts_at;   /* in a slot */
} Ring;

/* ---- arena words ------------------------------------------------------------------- */

static inline uint32_t load32(const char *p) {
    return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
}

static inline void store32(char *p, uint32_t v) {
    __atomic_store_n((uint32_t *)p, v, __ATOMIC_RELAXED);
}

static inline void put32(char *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put64(char *p, uint64_t v) { memcpy(p, &v, 8); }

static inline char *slot_at(const Ring *r, uint32_t pos) {
    return r->base + r->slots_offset + (Py_ssize_t)(pos & r->mask) * r->slot_size;
}

/* Slots free from `tail` on (`seq == pos`), up to `limit` (already at most the capacity). */
static uint32_t count_free(const Ring *r, uint32_t tail, uint32_t limit) {
    uint32_t n = 0;
    while (n < limit && load32(slot_at(r, tail + n) + r->seq_at) == tail + n)
        n++;
    return n;
}

/* Messages ready from `head` on (`seq == pos + 1`), up to `limit`. */
static uint32_t count_ready(const Ring *r, uint32_t head, uint32_t limit) {
    uint32_t n = 0;
    while (n < limit && load32(slot_at(r, head + n) + r->seq_at) == head + n + 1)
        n++;
    return n;
}

/* ---- arguments: the common case, or NotImplemented --------------------------------- */

/* An exact int in 0..max into *out; 0 (no error set) for anything else. */
static int word_arg(PyObject *o, unsigned long long max, unsigned long long *out) {
    if (!PyLong_CheckExact(o))
        return 0;
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();                     /* negative or too large: the reference decides */
        return 0;
    }
    if (v > max)
        return 0;
    *out = v;
    return 1;
}

/* A limit (an exact int) clamped to the capacity; 0 when not an int. Negative stays. */
static int limit_arg(const Ring *r, PyObject *o, long long *out) {
    if (!PyLong_CheckExact(o))
        return 0;
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (overflow < 0)
        return 0;
    *out = (overflow > 0 || v > (long long)r->capacity) ? (long long)r->capacity : v;
    return 1;
}

static int unsigned64_format(const char *format) {
    if (format == NULL)
        return 0;
    if (*format == '@' || *format == '=' || *format == '<')
        format++;
    return (format[0] == 'Q' || format[0] == 'L') && format[1] == '\0';
}

#define DECLINE() Py_RETURN_NOTIMPLEMENTED

/* ---- Ring ---------------------------------------------------------------------------- */

static int Ring_init(Ring *self, PyObject *args, PyObject *kwargs) {
    PyObject *memory;
    Py_ssize_t capacity;
    static char *names[] = {"memory", "head_offset", "tail_offset", "slots_offset",
                            "capacity", "slot_size", "payload_offset", "seq", "type_id",
                            "source", "flags", "correlation", "timestamp", NULL};
    if (self->base != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Ring is initialized once");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "Onnnnnnnnnnnn", names, &memory, &self->head_offset,
            &self->tail_offset, &self->slots_offset, &capacity, &self->slot_size,
            &self->payload_offset, &self->seq_at, &self->type_at, &self->source_at,
            &self->flags_at, &self->corr_at, &self->ts_at))
        return -1;
    if (PyObject_GetBuffer(memory, &self->arena, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    char *base = self->arena.buf;
    Py_ssize_t len = self->arena.len;
    const char *why = NULL;
    if (capacity <= 0 || capacity > ((Py_ssize_t)1 << 31) || (capacity & (capacity - 1)))
        why = "the capacity is not a power of two";
    else if (self->slot_size <= 0 || self->slot_size % 4
             || self->slots_offset < 0 || self->slots_offset % 4
             || self->slots_offset > len || capacity > (len - self->slots_offset) / self->slot_size)
        why = "the slots do not lie inside the arena on 4-byte words";
    else if (self->head_offset < 0 || self->head_offset % 4 || self->head_offset > len - 4
             || self->tail_offset < 0 || self->tail_offset % 4 || self->tail_offset > len - 4)
        why = "a counter does not lie inside the arena on a 4-byte word";
    else if ((uintptr_t)base % 4)
        why = "the arena is not 4-byte aligned";
    else if (self->seq_at < 0 || self->seq_at % 4 || self->seq_at > self->slot_size - 4
             || self->type_at < 0 || self->type_at > self->slot_size - 4
             || self->source_at < 0 || self->source_at > self->slot_size - 4
             || self->flags_at < 0 || self->flags_at > self->slot_size - 4
             || self->corr_at < 0 || self->corr_at > self->slot_size - 8
             || self->ts_at < 0 || self->ts_at > self->slot_size - 8
             || self->payload_offset < 0 || self->payload_offset > self->slot_size)
        why = "a slot header word lies outside the slot";
    if (why != NULL) {
        PyBuffer_Release(&self->arena);
        PyErr_SetString(PyExc_ValueError, why);
        return -1;
    }
    self->capacity = (uint32_t)capacity;
    self->mask = (uint32_t)capacity - 1;
    self->base = base;
    return 0;
}

static void Ring_dealloc(Ring *self) {
    if (self->base != NULL)
        PyBuffer_Release(&self->arena);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

#define NEED_INIT(self)                                                     \
    if ((self)->base == NULL) {                                             \
        PyErr_SetString(PyExc_RuntimeError, "Ring is not initialized");     \
        return NULL;                                                        \
    }

/* free(limit) -> int */
static PyObject *Ring_free(Ring *self, PyObject *limit_obj) {
    NEED_INIT(self);
    long long limit;
    if (!limit_arg(self, limit_obj, &limit))
        DECLINE();
    if (limit <= 0)
        return PyLong_FromLongLong(limit);     /* the reference's answer for an empty ask */
    uint32_t tail = load32(self->base + self->tail_offset);
    return PyLong_FromUnsignedLong(count_free(self, tail, (uint32_t)limit));
}

static inline void write_header(const Ring *r, char *slot, uint32_t type_id, uint32_t source,
                                uint64_t correlation, uint64_t timestamp) {
    put32(slot + r->type_at, type_id);
    put32(slot + r->source_at, source);
    put32(slot + r->flags_at, 0);
    put64(slot + r->corr_at, correlation);
    put64(slot + r->ts_at, timestamp);
}

/* produce_one(type_id, payload: bytes, source, correlation, timestamp) -> bool */
static PyObject *Ring_produce_one(Ring *self, PyObject *const *args, Py_ssize_t nargs) {
    NEED_INIT(self);
    unsigned long long type_id, source, correlation, timestamp;
    if (nargs != 5 || !PyBytes_CheckExact(args[1])
            || !word_arg(args[0], UINT32_MAX, &type_id)
            || !word_arg(args[2], UINT32_MAX, &source)
            || !word_arg(args[3], UINT64_MAX, &correlation)
            || !word_arg(args[4], UINT64_MAX, &timestamp))
        DECLINE();
    Py_ssize_t size = PyBytes_GET_SIZE(args[1]);
    if (size > self->slot_size - self->payload_offset)
        DECLINE();                             /* the reference writes past the slot */
    uint32_t tail = load32(self->base + self->tail_offset);
    char *slot = slot_at(self, tail);
    if (load32(slot + self->seq_at) != tail)
        Py_RETURN_FALSE;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);   /* the device has finished reading the slot */
    write_header(self, slot, (uint32_t)type_id, (uint32_t)source, correlation, timestamp);
    memcpy(slot + self->payload_offset, PyBytes_AS_STRING(args[1]), (size_t)size);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    store32(slot + self->seq_at, tail + 1);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    store32(self->base + self->tail_offset, tail + 1);
    Py_RETURN_TRUE;
}

/* produce(type_id, records, source, correlations, timestamp, plan) -> int
 *
 * `records`: a 1-d buffer of records (any stride); `plan`: bytes of native uint32 pairs
 * (offset, length), the runs of each record's bytes that numpy's field assignment copies
 * (rings.py computes it per dtype: the padding between fields is not copied). */
static PyObject *Ring_produce(Ring *self, PyObject *const *args, Py_ssize_t nargs) {
    NEED_INIT(self);
    unsigned long long type_id, source, timestamp;
    if (nargs != 6 || !PyBytes_CheckExact(args[5])
            || !word_arg(args[0], UINT32_MAX, &type_id)
            || !word_arg(args[2], UINT32_MAX, &source)
            || !word_arg(args[4], UINT64_MAX, &timestamp))
        DECLINE();
    const char *plan = PyBytes_AS_STRING(args[5]);
    Py_ssize_t runs = PyBytes_GET_SIZE(args[5]) / 8;
    if (PyBytes_GET_SIZE(args[5]) % 8)
        DECLINE();

    Py_buffer rec, cor;
    if (PyObject_GetBuffer(args[1], &rec, PyBUF_STRIDES) < 0) {
        PyErr_Clear();
        DECLINE();
    }
    if (PyObject_GetBuffer(args[3], &cor, PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        PyBuffer_Release(&rec);
        DECLINE();
    }
    PyObject *result = NULL;
    Py_ssize_t room = self->slot_size - self->payload_offset;
    if (rec.ndim != 1 || rec.itemsize > room || cor.ndim != 1 || cor.itemsize != 8
            || !unsigned64_format(cor.format))
        goto decline;
    for (Py_ssize_t k = 0; k < runs; k++) {
        uint32_t at, length;
        memcpy(&at, plan + 8 * k, 4);
        memcpy(&length, plan + 8 * k + 4, 4);
        if ((Py_ssize_t)at + (Py_ssize_t)length > rec.itemsize)
            goto decline;
    }
    Py_ssize_t count = rec.shape[0];
    uint32_t limit = count < (Py_ssize_t)self->capacity ? (uint32_t)count : self->capacity;
    uint32_t tail = load32(self->base + self->tail_offset);
    uint32_t n = count_free(self, tail, limit);
    if (n == 0) {
        result = PyLong_FromLong(0);
        goto done;
    }
    if (cor.shape[0] < (Py_ssize_t)n)
        goto decline;                          /* numpy would broadcast or refuse */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);   /* the device has finished reading them */
    const char *src = rec.buf, *corr = cor.buf;
    Py_ssize_t stride = rec.strides[0], corr_stride = cor.strides[0];
    uint32_t first_run[2] = {0, 0};
    if (runs == 1)
        memcpy(first_run, plan, 8);
    int whole = runs == 1 && first_run[0] == 0 && (Py_ssize_t)first_run[1] == rec.itemsize;
    for (uint32_t i = 0; i < n; i++) {
        char *slot = slot_at(self, tail + i);
        uint64_t correlation;
        memcpy(&correlation, corr + i * corr_stride, 8);
        write_header(self, slot, (uint32_t)type_id, (uint32_t)source, correlation, timestamp);
        const char *record = src + i * stride;
        char *payload = slot + self->payload_offset;
        if (whole) {
            memcpy(payload, record, (size_t)rec.itemsize);
        } else {
            for (Py_ssize_t k = 0; k < runs; k++) {
                uint32_t at, length;
                memcpy(&at, plan + 8 * k, 4);
                memcpy(&length, plan + 8 * k + 4, 4);
                memcpy(payload + at, record + at, length);
            }
        }
    }
    __atomic_thread_fence(__ATOMIC_RELEASE);
    for (uint32_t i = 0; i < n; i++)
        store32(slot_at(self, tail + i) + self->seq_at, tail + i + 1);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    store32(self->base + self->tail_offset, tail + n);
    result = PyLong_FromUnsignedLong(n);
    goto done;
decline:
    result = Py_NewRef(Py_NotImplemented);
done:
    PyBuffer_Release(&cor);
    PyBuffer_Release(&rec);
    return result;
}

/* ready() -> 0, 1 or 2 (more than one) */
static PyObject *Ring_ready(Ring *self, PyObject *Py_UNUSED(unused)) {
    NEED_INIT(self);
    uint32_t head = load32(self->base + self->head_offset);
    return PyLong_FromUnsignedLong(count_ready(self, head, 2));
}

/* consume_one() -> bytes: the slot at `head` (which `ready` said holds a message). */
static PyObject *Ring_consume_one(Ring *self, PyObject *Py_UNUSED(unused)) {
    NEED_INIT(self);
    uint32_t head = load32(self->base + self->head_offset);
    char *slot = slot_at(self, head);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);   /* the payload is read after its seq word */
    PyObject *row = PyBytes_FromStringAndSize(slot, self->slot_size);
    if (row == NULL)
        return NULL;
    store32(self->base + self->head_offset, head + 1);
    __atomic_thread_fence(__ATOMIC_RELEASE);   /* the slot is read before it is released */
    store32(slot + self->seq_at, head + self->capacity);
    return row;
}

/* consume_count(limit) -> int: how many `consume(limit)` takes now (0 for limit <= 0). */
static PyObject *Ring_consume_count(Ring *self, PyObject *limit_obj) {
    NEED_INIT(self);
    long long limit;
    if (!limit_arg(self, limit_obj, &limit))
        DECLINE();
    if (limit <= 0)
        return PyLong_FromLong(0);
    uint32_t head = load32(self->base + self->head_offset);
    return PyLong_FromUnsignedLong(count_ready(self, head, (uint32_t)limit));
}

/* consume_into(out) -> None: copies len(out) // slot_size slots from `head` into `out` (a
 * writable contiguous buffer) and releases them. The caller asked `consume_count` first:
 * only the host consumes, so those slots are still ready. */
static PyObject *Ring_consume_into(Ring *self, PyObject *out_obj) {
    NEED_INIT(self);
    Py_buffer out;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    Py_ssize_t n = out.len / self->slot_size;
    uint32_t head = load32(self->base + self->head_offset);
    if (n > (Py_ssize_t)self->capacity || out.len % self->slot_size
            || count_ready(self, head, (uint32_t)n) != (uint32_t)n) {
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "consume_into: that many slots are not ready");
        return NULL;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);   /* the payloads are read after their seq words */
    /* the slots are contiguous up to the ring's end, then from its start */
    uint32_t start = head & self->mask;
    Py_ssize_t first = (Py_ssize_t)self->capacity - start;
    if (first > n)
        first = n;
    memcpy(out.buf, slot_at(self, head), (size_t)(first * self->slot_size));
    memcpy((char *)out.buf + first * self->slot_size, self->base + self->slots_offset,
           (size_t)((n - first) * self->slot_size));
    PyBuffer_Release(&out);
    store32(self->base + self->head_offset, head + (uint32_t)n);
    __atomic_thread_fence(__ATOMIC_RELEASE);   /* the slots are read before they are released */
    for (uint32_t i = 0; i < (uint32_t)n; i++)
        store32(slot_at(self, head + i) + self->seq_at, head + i + self->capacity);
    Py_RETURN_NONE;
}

static PyMethodDef Ring_methods[] = {
    {"free", (PyCFunction)Ring_free, METH_O,
     "free(limit) -> int: slots free from tail, up to limit (NotImplemented: not an int)"},
    {"produce_one", (PyCFunction)(void (*)(void))Ring_produce_one, METH_FASTCALL,
     "produce_one(type_id, payload, source, correlation, timestamp) -> bool"},
    {"produce", (PyCFunction)(void (*)(void))Ring_produce, METH_FASTCALL,
     "produce(type_id, records, source, correlations, timestamp, plan) -> int"},
    {"ready", (PyCFunction)Ring_ready, METH_NOARGS, "ready() -> 0, 1 or 2"},
    {"consume_one", (PyCFunction)Ring_consume_one, METH_NOARGS,
     "consume_one() -> bytes: the slot at head, released"},
    {"consume_count", (PyCFunction)Ring_consume_count, METH_O,
     "consume_count(limit) -> int: slots ready from head, up to limit"},
    {"consume_into", (PyCFunction)Ring_consume_into, METH_O,
     "consume_into(out) -> None: copies len(out) // slot_size ready slots, released"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RingType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ringc.runtime._rings.Ring",
    .tp_basicsize = sizeof(Ring),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Ring(memory, head_offset, tail_offset, slots_offset, capacity, slot_size, "
              "payload_offset, seq, type_id, source, flags, correlation, timestamp): one "
              "ring of the arena; the offsets of the slot header's words are within a slot.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Ring_init,
    .tp_dealloc = (destructor)Ring_dealloc,
    .tp_methods = Ring_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ringc.runtime._rings",
    .m_doc = "The host's ring loops, compiled (rings.py holds the pure-Python reference).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__rings(void) {
    if (PyType_Ready(&RingType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&RingType);
    if (PyModule_AddObject(m, "Ring", (PyObject *)&RingType) < 0) {
        Py_DECREF(&RingType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
