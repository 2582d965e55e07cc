/* driver.c: bptt's emulated CUDA driver API (built as libcuda.so.1 by the test build).
 *
 * It implements the driver calls the cuda backend makes through the real JCuda natives, with
 * the semantics a GPU would show to the host:
 *  - device memory is host memory; a fresh allocation is filled with NaN, sits right before a
 *    PROT_NONE guard page (and after another), and the unused head of its first page holds a
 *    canary; a kernel or cuBLAS access outside its allocation is an error naming the kernel;
 *  - every stream is a queue of recorded work items (launches, memsets, cuBLAS calls, copies
 *    from pinned host memory, event records, event waits, graph launches) that runs only when
 *    the host waits: stream or context synchronize, an event, or a synchronous copy (which, as
 *    the driver documents, runs on the legacy NULL stream and so waits for every blocking stream
 *    of the context);
 *  - stream capture records a stream's work into a graph instead of queueing it (launches with
 *    their arguments, cuBLAS calls with alpha and beta, memsets, copies from pinned memory, which
 *    read the host buffer when the graph runs); a launched graph replays every node in order on
 *    the values memory holds then. What the driver forbids during a capture is refused here too
 *    and invalidates the capture: waiting for the capturing stream or the context, a
 *    synchronous copy (the legacy stream), allocating or freeing memory, loading modules, and a
 *    copy from pageable host memory;
 *  - cuModuleLoadData takes the real NVRTC image (CUBIN for a matching architecture, or PTX not
 *    newer than the emulated driver) and cuModuleGetFunction finds only its entries;
 *  - the device (compute capability, memory size) and driver version are configurable.
 * Environment: BPTT_CUDA_EMULATOR_CC (e.g. "8.6" or "8.6,12.0" for two devices),
 * BPTT_CUDA_EMULATOR_MEMORY (bytes per device, e.g. "512m", "4g"), BPTT_CUDA_EMULATOR_DRIVER
 * (e.g. "12.6"), BPTT_CUDA_EMULATOR_FILL ("nan", or "zero": fresh memory reads as zero and costs
 * no RAM until written, for tests of tensors near 2^31 elements), BPTT_CUDA_EMULATOR_TRACE=1
 * (a stderr line when work is queued and when it runs), BPTT_CUDA_EMULATOR_ARITHMETIC ("run",
 * or "skip": kernels and cuBLAS calls are accepted, checked, queued, captured and dequeued as
 * usual but their bodies do not run, so what a benchmark times is the host's own cost). */
#define _GNU_SOURCE
#include "emulator.h"

#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

enum {
    CU_STREAM_NON_BLOCKING = 0x1,
    CU_JIT_INFO_LOG_BUFFER = 3,
    CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
    CU_JIT_ERROR_LOG_BUFFER = 5,
    CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
    EM_CUDA_MACHINE = 190,
    STO_CUDA_ENTRY = 0x10,
    MAX_DEVICES = 8,
    MAX_THREADS_PER_BLOCK = 1024,
    MAX_SHARED_BYTES_PER_BLOCK = 48 * 1024,
    QUARANTINE_ENTRIES = 4096
};

static const uint32_t NAN_BITS = 0x7fc00000u;
static const uint8_t CANARY = 0xa5;

/* ---- configuration --------------------------------------------------------------------- */

typedef struct {
    int major, minor;
    uint64_t total_bytes;
    uint64_t used_bytes;
    char name[96];
} emu_device;

static emu_device devices[MAX_DEVICES];
static int device_count;
static int driver_version = 12060;
static int fill_nan = 1;
static int trace;
static int skip_arithmetic;
static int initialized;
static size_t page;

/* ---- state ------------------------------------------------------------------------------ */

typedef struct emu_alloc {
    uint8_t *map;             /* guard page, data pages, guard page */
    size_t map_bytes;
    uint8_t *base;            /* what cuMemAlloc returned: the data ends where the last guard page begins */
    size_t bytes;
    int device;
    int freed;                /* kept PROT_NONE after cuMemFree, so a later access is reported */
    struct emu_alloc *next;
} emu_alloc;

enum work_kind { WORK_KERNEL, WORK_MEMSET32, WORK_HOST, WORK_EVENT_RECORD, WORK_EVENT_WAIT, WORK_COPY, WORK_GRAPH };

typedef struct emu_work {
    uint64_t seq;             /* global submission order */
    enum work_kind kind;
    union {
        struct { const emu_kernel *kernel; emu_dim3 grid, block; emu_arg *args; } launch;
        struct { uint32_t *dst; uint32_t value; size_t count; } memset32;
        struct { emu_host_work work; void *data; size_t size; char what[200]; } host;
        struct { struct emu_event *event; } record;
        struct { uint64_t stream_id; uint64_t seq; } wait;
        struct { void *dst; const void *src; size_t bytes; } copy;
        struct { struct emu_graph_exec *exec; } graph;
    } u;
    struct emu_work *next;
} emu_work;

struct emu_stream {
    struct emu_ctx *ctx;
    uint64_t id;
    unsigned flags;
    int legacy;               /* the NULL stream of its context */
    emu_work *head, *tail;
    struct emu_graph *capture;   /* the graph being recorded while the stream is captured, else NULL */
    int capture_mode;            /* CU_STREAM_CAPTURE_MODE_* of that capture */
    pthread_t capture_thread;    /* the thread that began it */
    struct emu_stream *next;
};

/* A graph: work items recorded by a stream capture, in order (one stream: a chain of nodes). */
struct emu_graph {
    struct emu_ctx *ctx;
    emu_work *head, *tail;
    int count;
    int invalidated;             /* a forbidden call happened during its capture */
    char why[400];               /* which */
    struct emu_graph *next;
};

/* An instantiated graph: its own copy of every node, run in order each time it is launched. */
struct emu_graph_exec {
    struct emu_ctx *ctx;
    emu_work **nodes;
    int count;
    int queued;                  /* launches queued and not yet run */
    struct emu_graph_exec *next;
};

/* Page-locked host memory from cuMemAllocHost / cuMemHostAlloc: what asynchronous copies read. */
typedef struct emu_pinned {
    uint8_t *base;
    size_t bytes;
    struct emu_pinned *next;
} emu_pinned;

struct emu_event {
    struct emu_ctx *ctx;
    uint64_t stream_id;       /* where it was last recorded (0: never) */
    uint64_t seq;
    int done;
    struct emu_event *next;
};

struct emu_function {
    const emu_kernel *kernel;
    struct emu_module *module;
};

struct emu_module {
    struct emu_ctx *ctx;
    int count;
    char **entries;                    /* entry names found in the image */
    struct emu_function *functions;    /* one per entry (kernel NULL when the host has none) */
    struct emu_module *next;
};

struct emu_ctx {
    int device;
    int retains;              /* primary-context reference count; 0 = destroyed */
    unsigned generation;      /* changes every time the primary context is created */
    CUresult sticky;          /* a fault poisons the context until it is destroyed, as on a GPU */
    char sticky_why[600];
    struct emu_stream legacy;
    struct emu_stream *streams;
    struct emu_event *events;
    struct emu_module *modules;
    struct emu_graph *graphs;
    struct emu_graph_exec *execs;
};

static struct emu_ctx primary[MAX_DEVICES];
static emu_alloc *allocations;       /* live and quarantined (freed) allocations, newest first */
static emu_pinned *pinned;           /* live page-locked host allocations */
static uint64_t next_seq = 1;
static uint64_t next_stream_id = 1;
static __thread struct emu_ctx *current;

/* The last failure, for cuGetErrorString: the driver's text plus what exactly went wrong. */
static CUresult last_error;
static char last_why[600];

/* One lock around every entry point, as a driver serialises its API. */
static pthread_mutex_t big_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

static void unlock_big(pthread_mutex_t **m) { pthread_mutex_unlock(*m); }

#define LOCKED pthread_mutex_t *held_ __attribute__((cleanup(unlock_big), unused)) = \
        (pthread_mutex_lock(&big_lock), &big_lock)

EXPORT void bptt_emu_log(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("bptt CUDA emulator: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

/* Records why a call fails with result, for cuGetErrorString; returns result. */
static CUresult fail(CUresult result, const char *format, ...) __attribute__((format(printf, 2, 3)));
static CUresult fail(CUresult result, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(last_why, sizeof last_why, format, args);
    va_end(args);
    last_error = result;
    return result;
}

/* ---- guarded execution: faults in device work become errors, all others go to the JVM ----- */

static struct sigaction previous_segv;
static sigjmp_buf guard_jump;
static volatile sig_atomic_t guard_on;
static pthread_t guard_thread;
static volatile uintptr_t fault_address;
static volatile int fault_write;

static void on_segv(int sig, siginfo_t *info, void *context) {
    if (guard_on && pthread_equal(pthread_self(), guard_thread)) {
        fault_address = (uintptr_t) info->si_addr;
        fault_write = (((ucontext_t *) context)->uc_mcontext.gregs[REG_ERR] & 2) != 0;
        guard_on = 0;
        siglongjmp(guard_jump, 1);
    }
    /* Not a fault of device work: the JVM's handler (null checks, safepoints, crashes) decides. */
    if (previous_segv.sa_flags & SA_SIGINFO) {
        previous_segv.sa_sigaction(sig, info, context);
    } else if (previous_segv.sa_handler == SIG_DFL) {
        sigaction(SIGSEGV, &previous_segv, NULL);   /* the faulting instruction reruns and dies */
    } else if (previous_segv.sa_handler != SIG_IGN) {
        previous_segv.sa_handler(sig);
    }
}

static void install_fault_handler(void) {
    struct sigaction ours;
    sigaction(SIGSEGV, NULL, &previous_segv);
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = on_segv;
    ours.sa_mask = previous_segv.sa_mask;
    ours.sa_flags = previous_segv.sa_flags | SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &ours, NULL);
}

/* Runs statement with faults caught; faulted becomes 1 if it touched memory it may not. */
#define RUN_GUARDED(faulted, statement) do {                     \
        guard_thread = pthread_self();                           \
        if (sigsetjmp(guard_jump, 1) == 0) {                     \
            guard_on = 1;                                        \
            statement;                                           \
            guard_on = 0;                                        \
            (faulted) = 0;                                       \
        } else {                                                 \
            (faulted) = 1;                                       \
        }                                                        \
    } while (0)

/* ---- memory ----------------------------------------------------------------------------- */

static emu_alloc *find_allocation(uintptr_t address, int include_freed) {
    for (emu_alloc *a = allocations; a != NULL; a = a->next) {
        if ((include_freed || !a->freed) && address >= (uintptr_t) a->map && address < (uintptr_t) a->map + a->map_bytes) {
            return a;
        }
    }
    return NULL;
}

/* Where address lies relative to the allocations, as compute-sanitizer would say it. */
static void describe_address(uintptr_t address, char *out, size_t size) {
    emu_alloc *a = find_allocation(address, 1);
    if (a == NULL) {
        snprintf(out, size, "address 0x%lx is in no allocation of this device", (unsigned long) address);
    } else if (a->freed) {
        snprintf(out, size, "address 0x%lx is inside a %zu-byte allocation at 0x%lx that cuMemFree already freed",
                 (unsigned long) address, a->bytes, (unsigned long) a->base);
    } else if (address >= (uintptr_t) a->base + a->bytes) {
        snprintf(out, size, "address 0x%lx is %lu bytes after the end of a %zu-byte allocation at 0x%lx",
                 (unsigned long) address, (unsigned long) (address - (uintptr_t) a->base - a->bytes), a->bytes,
                 (unsigned long) a->base);
    } else if (address < (uintptr_t) a->base) {
        snprintf(out, size, "address 0x%lx is %lu bytes before the start of a %zu-byte allocation at 0x%lx",
                 (unsigned long) address, (unsigned long) ((uintptr_t) a->base - address), a->bytes,
                 (unsigned long) a->base);
    } else {
        snprintf(out, size, "address 0x%lx is inside a %zu-byte allocation at 0x%lx", (unsigned long) address,
                 a->bytes, (unsigned long) a->base);
    }
}

EXPORT int bptt_emu_check_range(CUdeviceptr p, uint64_t bytes, char *why, size_t why_size) {
    LOCKED;
    emu_alloc *a = find_allocation((uintptr_t) p, 0);
    if (a != NULL && (uint8_t *) (uintptr_t) p >= a->base && bytes <= a->bytes
        && (uintptr_t) p - (uintptr_t) a->base <= a->bytes - bytes) {
        return 1;
    }
    char where[300];
    describe_address((uintptr_t) p, where, sizeof where);
    if (a != NULL && !a->freed && (uint8_t *) (uintptr_t) p >= a->base) {
        snprintf(why, why_size, "%lu bytes from 0x%lx reach %lu bytes past the end of its %zu-byte allocation",
                 (unsigned long) bytes, (unsigned long) p,
                 (unsigned long) ((uintptr_t) p + bytes - (uintptr_t) a->base - a->bytes), a->bytes);
    } else {
        snprintf(why, why_size, "%lu bytes from 0x%lx: %s", (unsigned long) bytes, (unsigned long) p, where);
    }
    return 0;
}

/* The bytes between the start of the first data page and base hold CANARY; 1 if intact. */
static int canary_intact(const emu_alloc *a) {
    for (const uint8_t *q = a->map + page; q < a->base; q++) {
        if (*q != CANARY) {
            return 0;
        }
    }
    return 1;
}

/* dst[0, count) = value; whole pages of zeros are handed back to the kernel (read as zero, no RAM). */
static void fill32(uint32_t *dst, uint32_t value, size_t count) {
    uint8_t *begin = (uint8_t *) dst, *end = begin + count * 4;
    if (value == 0) {
        uint8_t *first = (uint8_t *) (((uintptr_t) begin + page - 1) & ~(uintptr_t) (page - 1));
        uint8_t *last = (uint8_t *) ((uintptr_t) end & ~(uintptr_t) (page - 1));
        if (last > first && (size_t) (last - first) >= 16 * page && madvise(first, last - first, MADV_DONTNEED) == 0) {
            memset(begin, 0, first - begin);
            memset(last, 0, end - last);
            return;
        }
    }
    for (size_t i = 0; i < count; i++) {
        dst[i] = value;
    }
}

static void release_mapping(emu_alloc *a) {
    munmap(a->map, a->map_bytes);
    free(a);
}

/* Keeps at most QUARANTINE_ENTRIES freed allocations mapped PROT_NONE; unmaps the oldest beyond. */
static void trim_quarantine(void) {
    int kept = 0;
    for (emu_alloc **link = &allocations; *link != NULL;) {
        emu_alloc *a = *link;
        if (a->freed && ++kept > QUARANTINE_ENTRIES) {
            *link = a->next;
            release_mapping(a);
        } else {
            link = &a->next;
        }
    }
}

static void free_allocation(emu_alloc *a) {
    mprotect(a->map, a->map_bytes, PROT_NONE);
    madvise(a->map, a->map_bytes, MADV_DONTNEED);
    a->freed = 1;
    devices[a->device].used_bytes -= a->bytes;
}

/* ---- contexts, streams and the work queue ------------------------------------------------ */

static int alive(const struct emu_ctx *ctx) { return ctx != NULL && ctx->retains > 0; }

static struct emu_stream *stream_by_id(struct emu_ctx *ctx, uint64_t id) {
    if (ctx->legacy.id == id) {
        return &ctx->legacy;
    }
    for (struct emu_stream *s = ctx->streams; s != NULL; s = s->next) {
        if (s->id == id) {
            return s;
        }
    }
    return NULL;
}

/* The stream a handle names in ctx: NULL is the legacy stream; an unknown handle gives NULL. */
static struct emu_stream *resolve_stream(struct emu_ctx *ctx, CUstream handle) {
    if (handle == NULL || handle == (CUstream) 0x1) {
        return &ctx->legacy;
    }
    for (struct emu_stream *s = ctx->streams; s != NULL; s = s->next) {
        if (s == handle) {
            return s;
        }
    }
    return NULL;
}

static void set_sticky(struct emu_ctx *ctx, CUresult result, const char *why) {
    if (ctx->sticky == CUDA_SUCCESS) {
        ctx->sticky = result;
        snprintf(ctx->sticky_why, sizeof ctx->sticky_why, "%s", why);
        bptt_emu_log("%s", why);
    }
}

static void run_until(struct emu_stream *s, uint64_t seq);

/* Runs one work item. Once the context has faulted, queued work is dropped, as on a GPU. */
static void execute(struct emu_ctx *ctx, emu_work *w) {
    int faulted = 0;
    char why[600];
    switch (w->kind) {
    case WORK_KERNEL: {
        const emu_kernel *k = w->u.launch.kernel;
        if (ctx->sticky != CUDA_SUCCESS || skip_arithmetic) {
            return;
        }
        RUN_GUARDED(faulted, k->run(w->u.launch.grid, w->u.launch.block, w->u.launch.args));
        if (faulted) {
            char where[300];
            describe_address(fault_address, where, sizeof where);
            snprintf(why, sizeof why, "kernel %s<<<%u, %u>>>: invalid %s: %s", k->name, w->u.launch.grid.x,
                     w->u.launch.block.x, fault_write ? "write" : "read", where);
            set_sticky(ctx, CUDA_ERROR_ILLEGAL_ADDRESS, why);
            return;
        }
        for (int i = 0; k->signature[i] != '\0'; i++) {
            emu_alloc *a = k->signature[i] == 'p' ? find_allocation((uintptr_t) w->u.launch.args[i].p, 0) : NULL;
            if (a != NULL && !canary_intact(a)) {
                snprintf(why, sizeof why, "kernel %s<<<%u, %u>>>: invalid write before the start of a %zu-byte"
                         " allocation at 0x%lx (argument %d points into it)", k->name, w->u.launch.grid.x,
                         w->u.launch.block.x, a->bytes, (unsigned long) a->base, i);
                set_sticky(ctx, CUDA_ERROR_ILLEGAL_ADDRESS, why);
                return;
            }
        }
        return;
    }
    case WORK_MEMSET32:
        if (ctx->sticky == CUDA_SUCCESS) {
            RUN_GUARDED(faulted, fill32(w->u.memset32.dst, w->u.memset32.value, w->u.memset32.count));
            if (faulted) {
                set_sticky(ctx, CUDA_ERROR_ILLEGAL_ADDRESS, "cuMemsetD32Async: invalid write");
            }
        }
        return;
    case WORK_HOST: {
        if (ctx->sticky != CUDA_SUCCESS || skip_arithmetic) {
            return;
        }
        CUresult result = CUDA_SUCCESS;
        why[0] = '\0';
        RUN_GUARDED(faulted, result = w->u.host.work(w->u.host.data, why, sizeof why));
        if (faulted) {
            char where[300];
            describe_address(fault_address, where, sizeof where);
            snprintf(why, sizeof why, "%s: invalid %s: %s", w->u.host.what, fault_write ? "write" : "read", where);
            set_sticky(ctx, CUDA_ERROR_ILLEGAL_ADDRESS, why);
        } else if (result != CUDA_SUCCESS) {
            char full[600];
            snprintf(full, sizeof full, "%s: %s", w->u.host.what, why);
            set_sticky(ctx, result, full);
        }
        return;
    }
    case WORK_EVENT_RECORD:
        w->u.record.event->done = 1;
        return;
    case WORK_EVENT_WAIT: {
        struct emu_stream *other = stream_by_id(ctx, w->u.wait.stream_id);
        if (other != NULL) {
            run_until(other, w->u.wait.seq);
        }
        return;
    }
    case WORK_COPY:
        if (ctx->sticky == CUDA_SUCCESS) {
            RUN_GUARDED(faulted, memcpy(w->u.copy.dst, w->u.copy.src, w->u.copy.bytes));
            if (faulted) {
                set_sticky(ctx, CUDA_ERROR_ILLEGAL_ADDRESS, "cuMemcpyHtoDAsync: the pinned host buffer or the"
                           " device range is no longer mapped (freed before the copy ran)");
            }
        }
        return;
    case WORK_GRAPH: {
        const struct emu_graph_exec *g = w->u.graph.exec;
        for (int i = 0; i < g->count && ctx->sticky == CUDA_SUCCESS; i++) {
            execute(ctx, g->nodes[i]);
        }
        return;
    }
    }
}

/* What a work item is, for the trace. */
static const char *work_name(const emu_work *w) {
    switch (w->kind) {
    case WORK_KERNEL: return w->u.launch.kernel->name;
    case WORK_MEMSET32: return "cuMemsetD32Async";
    case WORK_HOST: return w->u.host.what;
    case WORK_EVENT_RECORD: return "cuEventRecord";
    case WORK_EVENT_WAIT: return "cuStreamWaitEvent";
    case WORK_COPY: return "cuMemcpyHtoDAsync";
    default: return "cuGraphLaunch";
    }
}

static void free_work(emu_work *w) {
    if (w->kind == WORK_KERNEL) {
        free(w->u.launch.args);
    } else if (w->kind == WORK_HOST) {
        free(w->u.host.data);
    } else if (w->kind == WORK_GRAPH) {
        w->u.graph.exec->queued--;
    }
    free(w);
}

/* A deep copy of a recorded work item (its own arguments and host data), or NULL without memory. */
static emu_work *copy_work(const emu_work *w) {
    emu_work *c = malloc(sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    *c = *w;
    c->next = NULL;
    if (w->kind == WORK_KERNEL) {
        size_t bytes = (strlen(w->u.launch.kernel->signature) + 1) * sizeof(emu_arg);
        c->u.launch.args = malloc(bytes);
        if (c->u.launch.args == NULL) {
            free(c);
            return NULL;
        }
        memcpy(c->u.launch.args, w->u.launch.args, bytes);
    } else if (w->kind == WORK_HOST) {
        c->u.host.data = malloc(w->u.host.size);
        if (c->u.host.data == NULL) {
            free(c);
            return NULL;
        }
        memcpy(c->u.host.data, w->u.host.data, w->u.host.size);
    }
    return c;
}

/* Runs s's queued work up to submission seq, after what each item must wait for: work on the
 * legacy stream waits for all earlier work of the blocking streams and they wait for it. */
static void run_until(struct emu_stream *s, uint64_t seq) {
    while (s->head != NULL && s->head->seq <= seq) {
        emu_work *w = s->head;
        struct emu_ctx *ctx = s->ctx;
        if (s->legacy) {
            for (struct emu_stream *b = ctx->streams; b != NULL; b = b->next) {
                if (!(b->flags & CU_STREAM_NON_BLOCKING)) {
                    run_until(b, w->seq - 1);
                }
            }
        } else if (!(s->flags & CU_STREAM_NON_BLOCKING)) {
            run_until(&ctx->legacy, w->seq - 1);
        }
        s->head = w->next;
        if (s->head == NULL) {
            s->tail = NULL;
        }
        execute(ctx, w);
        if (trace) {
            bptt_emu_log("ran #%lu %s", (unsigned long) w->seq, work_name(w));
        }
        free_work(w);
    }
}

/* What a synchronous copy waits for: everything queued so far on the legacy and blocking streams. */
static void legacy_barrier(struct emu_ctx *ctx) {
    uint64_t now = next_seq;
    for (struct emu_stream *b = ctx->streams; b != NULL; b = b->next) {
        if (!(b->flags & CU_STREAM_NON_BLOCKING)) {
            run_until(b, now);
        }
    }
    run_until(&ctx->legacy, now);
}

static CUresult synchronize_context(struct emu_ctx *ctx) {
    for (struct emu_stream *s = ctx->streams; s != NULL; s = s->next) {
        run_until(s, UINT64_MAX);
    }
    run_until(&ctx->legacy, UINT64_MAX);
    return ctx->sticky;
}

static emu_work *new_work(enum work_kind kind) {
    emu_work *w = calloc(1, sizeof *w);
    if (w != NULL) {
        w->kind = kind;
        w->seq = next_seq++;
    }
    return w;
}

static void enqueue(struct emu_stream *s, emu_work *w) {
    if (trace) {
        bptt_emu_log("queued #%lu %s", (unsigned long) w->seq, work_name(w));
    }
    if (s->tail == NULL) {
        s->head = w;
    } else {
        s->tail->next = w;
    }
    s->tail = w;
}

/* ---- stream capture: what is recorded, and what a capture forbids ------------------------- */

enum { CU_STREAM_CAPTURE_MODE_GLOBAL = 0, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1,
       CU_STREAM_CAPTURE_MODE_RELAXED = 2 };

/* Queues w on s, or records it into the graph s is capturing; returns what the call returns. */
static CUresult submit(struct emu_stream *s, emu_work *w) {
    struct emu_graph *g = s->capture;
    if (g == NULL) {
        enqueue(s, w);
        return s->ctx->sticky;
    }
    if (g->invalidated) {
        free_work(w);
        return fail(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "the stream's capture was invalidated earlier: %s", g->why);
    }
    if (trace) {
        bptt_emu_log("captured #%lu %s", (unsigned long) w->seq, work_name(w));
    }
    if (g->tail == NULL) {
        g->head = w;
    } else {
        g->tail->next = w;
    }
    g->tail = w;
    g->count++;
    return CUDA_SUCCESS;
}

/* Marks s's capture invalid because of call; returns code, with the reason for cuGetErrorString. */
static CUresult invalidate_capture(struct emu_stream *s, CUresult code, const char *call) {
    struct emu_graph *g = s->capture;
    if (!g->invalidated) {
        g->invalidated = 1;
        snprintf(g->why, sizeof g->why, "%s was called while the stream was being captured", call);
    }
    return fail(code, "%s is not allowed while a stream is being captured into a CUDA graph: the capture is"
                " invalidated (cuStreamEndCapture will fail)", call);
}

/* The capture, if any, that forbids a potentially unsafe call now (allocation, module loading,
 * context synchronization): one in global mode anywhere, or one this thread began in
 * thread-local mode. */
static struct emu_stream *unsafe_call_capture(void) {
    for (int d = 0; d < device_count; d++) {
        if (primary[d].retains == 0) {
            continue;
        }
        for (struct emu_stream *s = primary[d].streams; s != NULL; s = s->next) {
            if (s->capture != NULL && (s->capture_mode == CU_STREAM_CAPTURE_MODE_GLOBAL
                || (s->capture_mode == CU_STREAM_CAPTURE_MODE_THREAD_LOCAL
                    && pthread_equal(s->capture_thread, pthread_self())))) {
                return s;
            }
        }
    }
    return NULL;
}

/* CUDA_SUCCESS, or CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED when a capture forbids call now. */
static CUresult check_unsafe_call(const char *call) {
    struct emu_stream *s = unsafe_call_capture();
    return s == NULL ? CUDA_SUCCESS : invalidate_capture(s, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, call);
}

/* Using the legacy stream synchronizes with every blocking stream of ctx, which a capture of one
 * of them forbids (cudaErrorStreamCaptureImplicit): CUDA_SUCCESS, or that error. */
static CUresult check_legacy_use(struct emu_ctx *ctx, const char *call) {
    for (struct emu_stream *s = ctx->streams; s != NULL; s = s->next) {
        if (s->capture != NULL && !(s->flags & CU_STREAM_NON_BLOCKING)) {
            return invalidate_capture(s, CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, call);
        }
    }
    return CUDA_SUCCESS;
}

/* What using stream s for call implies: a wait on it while it captures, or the legacy stream. */
static CUresult check_stream_wait(struct emu_stream *s, const char *call) {
    if (s->capture != NULL) {
        return invalidate_capture(s, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, call);
    }
    return s->legacy ? check_legacy_use(s->ctx, call) : CUDA_SUCCESS;
}

static void free_graph(struct emu_graph *g) {
    while (g->head != NULL) {
        emu_work *w = g->head;
        g->head = w->next;
        free_work(w);
    }
    free(g);
}

static void free_exec(struct emu_graph_exec *e) {
    for (int i = 0; i < e->count; i++) {
        free_work(e->nodes[i]);
    }
    free(e->nodes);
    free(e);
}

/* The current context, or an error: NOT_INITIALIZED before cuInit, INVALID_CONTEXT without one. */
static CUresult current_context(struct emu_ctx **ctx) {
    if (!initialized) {
        return fail(CUDA_ERROR_NOT_INITIALIZED, "cuInit has not been called");
    }
    if (!alive(current)) {
        return fail(CUDA_ERROR_INVALID_CONTEXT, current == NULL ? "no context is current on this thread"
                    : "the current context was destroyed (its primary context was released)");
    }
    *ctx = current;
    return CUDA_SUCCESS;
}

/* Starts an entry point that works in the current context: takes the lock, or returns the error. */
#define ENTER_CONTEXT(ctx)                                                   \
    LOCKED;                                                                  \
    struct emu_ctx *ctx;                                                     \
    do {                                                                     \
        CUresult entry_ = current_context(&ctx);                             \
        if (entry_ != CUDA_SUCCESS) {                                        \
            return entry_;                                                   \
        }                                                                    \
    } while (0)

static void destroy_context(struct emu_ctx *ctx) {
    synchronize_context(ctx);
    for (emu_alloc *a = allocations; a != NULL; a = a->next) {
        if (!a->freed && a->device == ctx->device) {
            free_allocation(a);
        }
    }
    while (ctx->streams != NULL) {
        struct emu_stream *s = ctx->streams;
        ctx->streams = s->next;
        if (s->capture != NULL) {
            free_graph(s->capture);
        }
        free(s);
    }
    while (ctx->graphs != NULL) {
        struct emu_graph *g = ctx->graphs;
        ctx->graphs = g->next;
        free_graph(g);
    }
    while (ctx->execs != NULL) {
        struct emu_graph_exec *e = ctx->execs;
        ctx->execs = e->next;
        free_exec(e);
    }
    while (ctx->events != NULL) {
        struct emu_event *e = ctx->events;
        ctx->events = e->next;
        free(e);
    }
    while (ctx->modules != NULL) {
        struct emu_module *m = ctx->modules;
        ctx->modules = m->next;
        for (int i = 0; i < m->count; i++) {
            free(m->entries[i]);
        }
        free(m->entries);
        free(m->functions);
        free(m);
    }
    ctx->sticky = CUDA_SUCCESS;
    ctx->sticky_why[0] = '\0';
}

/* ---- exported to the emulated cuBLAS ----------------------------------------------------- */

EXPORT CUcontext bptt_emu_current_context(unsigned *generation) {
    LOCKED;
    if (!alive(current)) {
        return NULL;
    }
    *generation = current->generation;
    return current;
}

EXPORT int bptt_emu_context_alive(CUcontext ctx, unsigned generation) {
    LOCKED;
    return alive(ctx) && ctx->generation == generation;
}

EXPORT int bptt_emu_stream_of(CUcontext ctx, CUstream stream) {
    LOCKED;
    return alive(ctx) && resolve_stream(ctx, stream) != NULL;
}

EXPORT CUresult bptt_emu_enqueue_host(CUcontext ctx, CUstream stream, const char *what, emu_host_work work,
                                      void *data, size_t data_size) {
    LOCKED;
    struct emu_stream *s = alive(ctx) ? resolve_stream(ctx, stream) : NULL;
    CUresult r = s == NULL ? CUDA_ERROR_INVALID_HANDLE : s->legacy ? check_legacy_use(ctx, what) : CUDA_SUCCESS;
    emu_work *w = r == CUDA_SUCCESS ? new_work(WORK_HOST) : NULL;
    if (w == NULL) {
        free(data);
        return r != CUDA_SUCCESS ? r : CUDA_ERROR_OUT_OF_MEMORY;
    }
    w->u.host.work = work;
    w->u.host.data = data;
    w->u.host.size = data_size;
    snprintf(w->u.host.what, sizeof w->u.host.what, "%s", what);
    return submit(s, w);
}

EXPORT CUresult bptt_emu_synchronize(CUcontext ctx) {
    LOCKED;
    return alive(ctx) ? synchronize_context(ctx) : CUDA_ERROR_INVALID_CONTEXT;
}

/* ---- initialisation and devices ----------------------------------------------------------- */

/* "8.6" or "86" -> 8, 6. */
static int parse_cc(const char *text, int *major, int *minor) {
    int a, b;
    char tail;
    if (sscanf(text, "%d.%d%c", &a, &b, &tail) == 2 && a > 0 && b >= 0 && b < 10) {
        *major = a;
        *minor = b;
        return 1;
    }
    if (sscanf(text, "%d%c", &a, &tail) == 1 && a >= 10) {
        *major = a / 10;
        *minor = a % 10;
        return 1;
    }
    return 0;
}

/* "4g", "512m", "65536k" or bytes. */
static int parse_size(const char *text, uint64_t *bytes) {
    unsigned long long n;
    char unit = '\0', tail;
    int fields = sscanf(text, "%llu%c%c", &n, &unit, &tail);
    if (fields < 1 || fields > 2 || n == 0) {
        return 0;
    }
    switch (unit) {
    case '\0': *bytes = n; return 1;
    case 'k': case 'K': *bytes = n << 10; return 1;
    case 'm': case 'M': *bytes = n << 20; return 1;
    case 'g': case 'G': *bytes = n << 30; return 1;
    default: return 0;
    }
}

static CUresult configure(void) {
    const char *cc = getenv("BPTT_CUDA_EMULATOR_CC");
    const char *memory = getenv("BPTT_CUDA_EMULATOR_MEMORY");
    const char *driver = getenv("BPTT_CUDA_EMULATOR_DRIVER");
    const char *fill = getenv("BPTT_CUDA_EMULATOR_FILL");
    const char *arithmetic = getenv("BPTT_CUDA_EMULATOR_ARITHMETIC");
    uint64_t total = 4ull << 30;
    if (memory != NULL && !parse_size(memory, &total)) {
        bptt_emu_log("BPTT_CUDA_EMULATOR_MEMORY='%s' is not a size (use e.g. 512m or 4g)", memory);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (driver != NULL) {
        int major, minor;
        if (!parse_cc(driver, &major, &minor)) {
            bptt_emu_log("BPTT_CUDA_EMULATOR_DRIVER='%s' is not a CUDA version (use e.g. 12.6)", driver);
            return CUDA_ERROR_INVALID_VALUE;
        }
        driver_version = major * 1000 + minor * 10;
    }
    if (fill != NULL && strcmp(fill, "nan") != 0 && strcmp(fill, "zero") != 0) {
        bptt_emu_log("BPTT_CUDA_EMULATOR_FILL='%s' must be nan or zero", fill);
        return CUDA_ERROR_INVALID_VALUE;
    }
    fill_nan = fill == NULL || strcmp(fill, "nan") == 0;
    if (arithmetic != NULL && strcmp(arithmetic, "run") != 0 && strcmp(arithmetic, "skip") != 0) {
        bptt_emu_log("BPTT_CUDA_EMULATOR_ARITHMETIC='%s' must be run or skip", arithmetic);
        return CUDA_ERROR_INVALID_VALUE;
    }
    skip_arithmetic = arithmetic != NULL && strcmp(arithmetic, "skip") == 0;
    trace = getenv("BPTT_CUDA_EMULATOR_TRACE") != NULL && strcmp(getenv("BPTT_CUDA_EMULATOR_TRACE"), "1") == 0;
    char list[256];
    snprintf(list, sizeof list, "%s", cc != NULL ? cc : "8.6");
    device_count = 0;
    for (char *save = NULL, *item = strtok_r(list, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        emu_device *d = &devices[device_count];
        if (device_count == MAX_DEVICES || !parse_cc(item, &d->major, &d->minor)) {
            bptt_emu_log("BPTT_CUDA_EMULATOR_CC='%s': give up to %d compute capabilities such as 8.6,12.0", cc,
                         MAX_DEVICES);
            return CUDA_ERROR_INVALID_VALUE;
        }
        d->total_bytes = total;
        snprintf(d->name, sizeof d->name, "bptt CUDA emulator (sm_%d%d, host memory)", d->major, d->minor);
        device_count++;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuInit(unsigned flags) {
    LOCKED;
    if (flags != 0) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuInit flags must be 0");
    }
    if (!initialized) {
        CUresult r = configure();
        if (r != CUDA_SUCCESS) {
            return fail(r, "the emulator's environment variables are invalid (see stderr)");
        }
        page = (size_t) sysconf(_SC_PAGESIZE);
        for (int d = 0; d < device_count; d++) {
            primary[d].device = d;
        }
        install_fault_handler();
        initialized = 1;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDriverGetVersion(int *version) {
    LOCKED;
    if (version == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (!initialized && configure() != CUDA_SUCCESS) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    *version = driver_version;
    return CUDA_SUCCESS;
}

static CUresult check_device(CUdevice d) {
    if (!initialized) {
        return fail(CUDA_ERROR_NOT_INITIALIZED, "cuInit has not been called");
    }

/* Starts an entry point about device d: takes the lock, or returns the error. */
#define ENTER_DEVICE(d)                                                      \
    LOCKED;                                                                  \
    do {                                                                     \
        CUresult entry_ = check_device(d);                                   \
        if (entry_ != CUDA_SUCCESS) {                                        \
            return entry_;                                                   \
        }                                                                    \
    } while (0)
    return d >= 0 && d < device_count ? CUDA_SUCCESS : fail(CUDA_ERROR_INVALID_DEVICE, "no device %d", d);
}

EXPORT CUresult cuDeviceGetCount(int *count) {
    LOCKED;
    if (!initialized) {
        return CUDA_ERROR_NOT_INITIALIZED;
    }
    *count = device_count;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal) {
    ENTER_DEVICE(ordinal);
    *device = ordinal;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetName(char *name, int length, CUdevice d) {
    ENTER_DEVICE(d);
    if (name == NULL || length <= 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    snprintf(name, (size_t) length, "%s", devices[d].name);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d) {
    ENTER_DEVICE(d);
    *bytes = devices[d].total_bytes;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int *value, int attribute, CUdevice d) {
    ENTER_DEVICE(d);
    switch (attribute) {
    case 1: *value = MAX_THREADS_PER_BLOCK; break;                 /* MAX_THREADS_PER_BLOCK */
    case 2: case 3: *value = 1024; break;                          /* MAX_BLOCK_DIM_X, _Y */
    case 4: *value = 64; break;                                    /* MAX_BLOCK_DIM_Z */
    case 5: *value = 2147483647; break;                            /* MAX_GRID_DIM_X */
    case 6: case 7: *value = 65535; break;                         /* MAX_GRID_DIM_Y, _Z */
    case 8: *value = MAX_SHARED_BYTES_PER_BLOCK; break;            /* MAX_SHARED_MEMORY_PER_BLOCK */
    case 10: *value = 32; break;                                   /* WARP_SIZE */
    case 16: *value = 1; break;                                    /* MULTIPROCESSOR_COUNT */
    case 75: *value = devices[d].major; break;                     /* COMPUTE_CAPABILITY_MAJOR */
    case 76: *value = devices[d].minor; break;                     /* COMPUTE_CAPABILITY_MINOR */
    default:
        return fail(CUDA_ERROR_INVALID_VALUE, "device attribute %d is not emulated", attribute);
    }
    return CUDA_SUCCESS;
}

/* ---- contexts ------------------------------------------------------------------------------ */

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice d) {
    ENTER_DEVICE(d);
    struct emu_ctx *c = &primary[d];
    if (c->retains++ == 0) {
        c->generation++;
        c->legacy.ctx = c;
        c->legacy.legacy = 1;
        c->legacy.id = next_stream_id++;
    }
    *ctx = c;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
    ENTER_DEVICE(d);
    struct emu_ctx *c = &primary[d];
    if (c->retains == 0) {
        return fail(CUDA_ERROR_INVALID_CONTEXT, "the primary context of device %d is not retained", d);
    }
    if (--c->retains == 0) {
        destroy_context(c);
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
    LOCKED;
    if (!initialized) {
        return CUDA_ERROR_NOT_INITIALIZED;
    }
    if (ctx != NULL && !alive(ctx)) {
        return fail(CUDA_ERROR_INVALID_CONTEXT, "cuCtxSetCurrent of a destroyed context");
    }
    current = ctx;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetCurrent(CUcontext *ctx) {
    LOCKED;
    *ctx = alive(current) ? current : NULL;
    return initialized ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED;
}

EXPORT CUresult cuCtxSynchronize(void) {
    LOCKED;
    struct emu_ctx *ctx;
    CUresult r = current_context(&ctx);
    if (r == CUDA_SUCCESS) {
        r = check_unsafe_call("cuCtxSynchronize");
    }
    return r != CUDA_SUCCESS ? r : synchronize_context(ctx);
}

/* ---- memory -------------------------------------------------------------------------------- */

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *out, size_t bytes) {
    ENTER_CONTEXT(ctx);
    CUresult unsafe = check_unsafe_call("cuMemAlloc");
    if (unsafe != CUDA_SUCCESS) {
        return unsafe;
    }
    emu_device *d = &devices[ctx->device];
    if (bytes == 0) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuMemAlloc of 0 bytes");
    }
    if (bytes > d->total_bytes - d->used_bytes) {
        return fail(CUDA_ERROR_OUT_OF_MEMORY, "%zu bytes requested, %lu of %lu free", bytes,
                    (unsigned long) (d->total_bytes - d->used_bytes), (unsigned long) d->total_bytes);
    }
    size_t span = (bytes + page - 1) / page * page;
    emu_alloc *a = calloc(1, sizeof *a);
    uint8_t *map = mmap(NULL, span + 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (a == NULL || map == MAP_FAILED || mprotect(map + page, span, PROT_READ | PROT_WRITE) != 0) {
        free(a);
        if (map != MAP_FAILED) {
            munmap(map, span + 2 * page);
        }
        return fail(CUDA_ERROR_OUT_OF_MEMORY, "the host could not map %zu bytes: %s", bytes, strerror(errno));
    }
    a->map = map;
    a->map_bytes = span + 2 * page;
    a->base = (uint8_t *) ((uintptr_t) (map + page + span - bytes) & ~(uintptr_t) 3);
    a->bytes = bytes;
    a->device = ctx->device;
    memset(map + page, CANARY, (size_t) (a->base - (map + page)));
    if (fill_nan) {
        fill32((uint32_t *) a->base, NAN_BITS, bytes / 4);
        memset(a->base + bytes / 4 * 4, 0xff, bytes % 4);
    }
    a->next = allocations;
    allocations = a;
    d->used_bytes += bytes;
    *out = (CUdeviceptr) (uintptr_t) a->base;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
    ENTER_CONTEXT(ctx);
    CUresult unsafe = check_unsafe_call("cuMemFree");
    if (unsafe != CUDA_SUCCESS) {
        return unsafe;
    }
    emu_alloc *a = find_allocation((uintptr_t) p, 0);
    if (a == NULL || (uintptr_t) a->base != (uintptr_t) p || a->device != ctx->device) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuMemFree(0x%lx): not an allocation of this context",
                    (unsigned long) p);
    }
    synchronize_context(ctx);           /* like cudaFree, it waits for the work that may use it */
    free_allocation(a);
    trim_quarantine();
    return ctx->sticky;
}

EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total_bytes) {
    LOCKED;
    struct emu_ctx *ctx;
    CUresult r = current_context(&ctx);
    if (r == CUDA_SUCCESS) {
        emu_device *d = &devices[ctx->device];
        *free_bytes = d->total_bytes - d->used_bytes;
        *total_bytes = d->total_bytes;
    }
    return r;
}

static CUresult check_device_range(CUdeviceptr p, uint64_t bytes, const char *call) {
    char why[400];
    return bptt_emu_check_range(p, bytes, why, sizeof why) ? CUDA_SUCCESS
           : fail(CUDA_ERROR_INVALID_VALUE, "%s: %s", call, why);
}

/* A synchronous copy: waits as the legacy stream does, then copies at once. */
static CUresult copy_now(void *dst, const void *src, size_t bytes, CUdeviceptr device, const char *call) {
    struct emu_ctx *ctx;
    CUresult r = current_context(&ctx);
    if (r == CUDA_SUCCESS) {
        r = check_device_range(device, bytes, call);
    }
    if (r == CUDA_SUCCESS) {
        r = check_legacy_use(ctx, call);
    }
    if (r != CUDA_SUCCESS) {
        return r;
    }
    legacy_barrier(ctx);
    if (ctx->sticky != CUDA_SUCCESS) {
        return ctx->sticky;
    }
    int faulted;
    RUN_GUARDED(faulted, memcpy(dst, src, bytes));
    if (faulted) {
        return fail(CUDA_ERROR_INVALID_VALUE, "%s: the host buffer is not readable or writable", call);
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes) {
    LOCKED;
    return copy_now((void *) (uintptr_t) dst, src, bytes, dst, "cuMemcpyHtoD");
}

EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes) {
    LOCKED;
    return copy_now(dst, (const void *) (uintptr_t) src, bytes, src, "cuMemcpyDtoH");
}

EXPORT CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value, size_t count, CUstream stream) {
    LOCKED;
    struct emu_ctx *ctx;
    CUresult r = current_context(&ctx);
    if (r == CUDA_SUCCESS) {
        r = check_device_range(dst, (uint64_t) count * 4, "cuMemsetD32Async");
    }
    if (r != CUDA_SUCCESS) {
        return r;
    }
    struct emu_stream *s = resolve_stream(ctx, stream);
    if (s == NULL) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuMemsetD32Async on a stream of no context");
    }
    if (s->legacy && (r = check_legacy_use(ctx, "cuMemsetD32Async on the legacy stream")) != CUDA_SUCCESS) {
        return r;
    }
    emu_work *w = new_work(WORK_MEMSET32);
    if (w == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    w->u.memset32.dst = (uint32_t *) (uintptr_t) dst;
    w->u.memset32.value = value;
    w->u.memset32.count = count;
    return submit(s, w);
}

/* ---- streams and events ------------------------------------------------------------------ */

EXPORT CUresult cuStreamCreate(CUstream *out, unsigned flags) {
    ENTER_CONTEXT(ctx);
    if (flags & ~(unsigned) CU_STREAM_NON_BLOCKING) {
        return fail(CUDA_ERROR_INVALID_VALUE, "stream flags 0x%x", flags);
    }
    struct emu_stream *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    s->ctx = ctx;
    s->id = next_stream_id++;
    s->flags = flags;
    s->next = ctx->streams;
    ctx->streams = s;
    *out = s;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamDestroy_v2(CUstream stream) {
    ENTER_CONTEXT(ctx);
    for (struct emu_stream **link = &ctx->streams; *link != NULL; link = &(*link)->next) {
        if (*link == stream) {
            if (stream->capture != NULL) {
                return fail(CUDA_ERROR_ILLEGAL_STATE, "cuStreamDestroy of a stream that is being captured");
            }
            run_until(stream, UINT64_MAX);     /* its work completes, then it goes */
            *link = stream->next;
            free(stream);
            return CUDA_SUCCESS;
        }
    }
    return fail(CUDA_ERROR_INVALID_HANDLE, "cuStreamDestroy of an unknown stream");
}

EXPORT CUresult cuStreamSynchronize(CUstream stream) {
    ENTER_CONTEXT(ctx);
    struct emu_stream *s = resolve_stream(ctx, stream);
    if (s == NULL) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuStreamSynchronize of an unknown stream");
    }
    CUresult r = check_stream_wait(s, "cuStreamSynchronize");
    if (r != CUDA_SUCCESS) {
        return r;
    }
    run_until(s, UINT64_MAX);
    return ctx->sticky;
}

/* A query finds queued work still running (NOT_READY) and lets it finish, so polling terminates. */
EXPORT CUresult cuStreamQuery(CUstream stream) {
    ENTER_CONTEXT(ctx);
    struct emu_stream *s = resolve_stream(ctx, stream);
    if (s == NULL) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuStreamQuery of an unknown stream");
    }
    CUresult r = check_stream_wait(s, "cuStreamQuery");
    if (r != CUDA_SUCCESS) {
        return r;
    }
    int busy = s->head != NULL;
    run_until(s, UINT64_MAX);
    return ctx->sticky != CUDA_SUCCESS ? ctx->sticky : busy ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}

static struct emu_event *resolve_event(struct emu_ctx *ctx, CUevent event) {
    for (struct emu_event *e = ctx->events; e != NULL; e = e->next) {
        if (e == event) {
            return e;
        }
    }
    return NULL;
}

EXPORT CUresult cuEventCreate(CUevent *out, unsigned flags) {
    ENTER_CONTEXT(ctx);
    (void) flags;
    struct emu_event *e = calloc(1, sizeof *e);
    if (e == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    e->ctx = ctx;
    e->done = 1;
    e->next = ctx->events;
    ctx->events = e;
    *out = e;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventDestroy_v2(CUevent event) {
    ENTER_CONTEXT(ctx);
    for (struct emu_event **link = &ctx->events; *link != NULL; link = &(*link)->next) {
        if (*link == event) {
            struct emu_stream *s = stream_by_id(ctx, event->stream_id);
            if (s != NULL) {
                run_until(s, event->seq);     /* its record item points at it */
            }
            *link = event->next;
            free(event);
            return CUDA_SUCCESS;
        }
    }
    return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventDestroy of an unknown event");
}

EXPORT CUresult cuEventRecord(CUevent event, CUstream stream) {
    ENTER_CONTEXT(ctx);
    struct emu_event *e = resolve_event(ctx, event);
    struct emu_stream *s = resolve_stream(ctx, stream);
    if (e == NULL || s == NULL) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventRecord of an unknown %s", e == NULL ? "event" : "stream");
    }
    if (s->capture != NULL) {
        return invalidate_capture(s, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
                                  "cuEventRecord (the emulator records no events into graphs)");
    }
    emu_work *w = new_work(WORK_EVENT_RECORD);
    if (w == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    w->u.record.event = e;
    e->stream_id = s->id;
    e->seq = w->seq;
    e->done = 0;
    enqueue(s, w);
    return ctx->sticky;
}

EXPORT CUresult cuEventSynchronize(CUevent event) {
    ENTER_CONTEXT(ctx);
    struct emu_event *e = resolve_event(ctx, event);
    if (e == NULL) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventSynchronize of an unknown event");
    }
    struct emu_stream *s = stream_by_id(ctx, e->stream_id);
    if (s != NULL) {
        run_until(s, e->seq);
    }
    return ctx->sticky;
}

EXPORT CUresult cuEventQuery(CUevent event) {
    ENTER_CONTEXT(ctx);
    struct emu_event *e = resolve_event(ctx, event);
    if (e == NULL) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventQuery of an unknown event");
    }
    int busy = !e->done;
    struct emu_stream *s = stream_by_id(ctx, e->stream_id);
    if (s != NULL) {
        run_until(s, e->seq);
    }
    return ctx->sticky != CUDA_SUCCESS ? ctx->sticky : busy ? CUDA_ERROR_NOT_READY : CUDA_SUCCESS;
}

EXPORT CUresult cuStreamWaitEvent(CUstream stream, CUevent event, unsigned flags) {
    ENTER_CONTEXT(ctx);
    struct emu_event *e = resolve_event(ctx, event);
    struct emu_stream *s = resolve_stream(ctx, stream);
    if (e == NULL || s == NULL || flags != 0) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuStreamWaitEvent with an unknown stream or event, or flags");
    }
    if (s->capture != NULL) {
        return invalidate_capture(s, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
                                  "cuStreamWaitEvent (the emulator records no events into graphs)");
    }
    emu_work *w = new_work(WORK_EVENT_WAIT);
    if (w == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    w->u.wait.stream_id = e->stream_id;
    w->u.wait.seq = e->seq;
    enqueue(s, w);
    return ctx->sticky;
}

/* ---- page-locked host memory and asynchronous copies ---------------------------------------- */

static CUresult alloc_host(void **out, size_t bytes, const char *call) {
    ENTER_CONTEXT(ctx);
    CUresult unsafe = check_unsafe_call(call);
    if (unsafe != CUDA_SUCCESS) {
        return unsafe;
    }
    if (out == NULL || bytes == 0) {
        return fail(CUDA_ERROR_INVALID_VALUE, "%s of %zu bytes", call, bytes);
    }
    emu_pinned *p = calloc(1, sizeof *p);
    void *base = NULL;
    if (p == NULL || posix_memalign(&base, page, bytes) != 0) {
        free(p);
        return fail(CUDA_ERROR_OUT_OF_MEMORY, "%s: the host could not allocate %zu bytes", call, bytes);
    }
    p->base = base;
    p->bytes = bytes;
    p->next = pinned;
    pinned = p;
    *out = base;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAllocHost_v2(void **out, size_t bytes) { return alloc_host(out, bytes, "cuMemAllocHost"); }

EXPORT CUresult cuMemHostAlloc(void **out, size_t bytes, unsigned flags) {
    if (flags & ~7u) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuMemHostAlloc flags 0x%x", flags);
    }
    return alloc_host(out, bytes, "cuMemHostAlloc");
}

EXPORT CUresult cuMemFreeHost(void *p) {
    ENTER_CONTEXT(ctx);
    CUresult unsafe = check_unsafe_call("cuMemFreeHost");
    if (unsafe != CUDA_SUCCESS) {
        return unsafe;
    }
    for (emu_pinned **link = &pinned; *link != NULL; link = &(*link)->next) {
        if ((*link)->base == p) {
            emu_pinned *gone = *link;
            synchronize_context(ctx);       /* no queued copy may read it afterwards */
            *link = gone->next;
            free(gone->base);
            free(gone);
            return ctx->sticky;
        }
    }
    return fail(CUDA_ERROR_INVALID_VALUE, "cuMemFreeHost(%p): not memory from cuMemAllocHost", p);
}

/* Whether [p, p + bytes) lies in one page-locked allocation. */
static int is_pinned(const void *p, size_t bytes) {
    for (const emu_pinned *q = pinned; q != NULL; q = q->next) {
        if ((const uint8_t *) p >= q->base && bytes <= q->bytes
            && (size_t) ((const uint8_t *) p - q->base) <= q->bytes - bytes) {
            return 1;
        }
    }
    return 0;
}

/* Queued on the stream (recorded when it captures) from page-locked memory, which the copy reads
 * when it runs; from pageable memory the driver copies at once after the stream's earlier work,
 * which a capture cannot record, so the emulator refuses it there. */
EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t bytes, CUstream stream) {
    ENTER_CONTEXT(ctx);
    CUresult r = check_device_range(dst, bytes, "cuMemcpyHtoDAsync");
    if (r != CUDA_SUCCESS) {
        return r;
    }
    struct emu_stream *s = resolve_stream(ctx, stream);
    if (s == NULL) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuMemcpyHtoDAsync on a stream of no context");
    }
    if (s->legacy && (r = check_legacy_use(ctx, "cuMemcpyHtoDAsync on the legacy stream")) != CUDA_SUCCESS) {
        return r;
    }
    if (!is_pinned(src, bytes)) {
        if (s->capture != NULL) {
            return invalidate_capture(s, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
                                      "cuMemcpyHtoDAsync from pageable host memory (use cuMemAllocHost memory)");
        }
        run_until(s, UINT64_MAX);
        if (ctx->sticky != CUDA_SUCCESS) {
            return ctx->sticky;
        }
        int faulted;
        RUN_GUARDED(faulted, memcpy((void *) (uintptr_t) dst, src, bytes));
        return faulted ? fail(CUDA_ERROR_INVALID_VALUE, "cuMemcpyHtoDAsync: the host buffer is not readable")
                       : CUDA_SUCCESS;
    }
    emu_work *w = new_work(WORK_COPY);
    if (w == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    w->u.copy.dst = (void *) (uintptr_t) dst;
    w->u.copy.src = src;
    w->u.copy.bytes = bytes;
    return submit(s, w);
}

/* ---- stream capture and graphs --------------------------------------------------------------- */

EXPORT CUresult cuStreamBeginCapture_v2(CUstream stream, int mode) {
    ENTER_CONTEXT(ctx);
    struct emu_stream *s = resolve_stream(ctx, stream);
    if (s == NULL || s->legacy) {
        return fail(CUDA_ERROR_INVALID_VALUE, s == NULL ? "cuStreamBeginCapture of an unknown stream"
                    : "cuStreamBeginCapture: the legacy NULL stream cannot be captured");
    }
    if (mode < CU_STREAM_CAPTURE_MODE_GLOBAL || mode > CU_STREAM_CAPTURE_MODE_RELAXED) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuStreamBeginCapture mode %d", mode);
    }
    if (s->capture != NULL) {
        return fail(CUDA_ERROR_ILLEGAL_STATE, "cuStreamBeginCapture: the stream is already being captured");
    }
    struct emu_graph *g = calloc(1, sizeof *g);
    if (g == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    g->ctx = ctx;
    s->capture = g;
    s->capture_mode = mode;
    s->capture_thread = pthread_self();
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamEndCapture(CUstream stream, struct emu_graph **out) {
    ENTER_CONTEXT(ctx);
    struct emu_stream *s = resolve_stream(ctx, stream);
    if (s == NULL || s->capture == NULL) {
        return fail(CUDA_ERROR_ILLEGAL_STATE, "cuStreamEndCapture on a stream that is not being captured");
    }
    if (s->capture_mode != CU_STREAM_CAPTURE_MODE_RELAXED && !pthread_equal(s->capture_thread, pthread_self())) {
        return fail(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD, "cuStreamEndCapture from another thread than"
                    " cuStreamBeginCapture");
    }
    struct emu_graph *g = s->capture;
    s->capture = NULL;
    if (g->invalidated) {
        CUresult r = fail(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "the capture was invalidated: %s", g->why);
        free_graph(g);
        *out = NULL;
        return r;
    }
    g->next = ctx->graphs;
    ctx->graphs = g;
    *out = g;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamIsCapturing(CUstream stream, int *status) {
    ENTER_CONTEXT(ctx);
    struct emu_stream *s = resolve_stream(ctx, stream);
    if (s == NULL || status == NULL) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuStreamIsCapturing of an unknown stream");
    }
    *status = s->capture == NULL ? 0 : s->capture->invalidated ? 2 : 1;
    return CUDA_SUCCESS;
}

static struct emu_graph *resolve_graph(struct emu_ctx *ctx, struct emu_graph *graph) {
    for (struct emu_graph *g = ctx->graphs; g != NULL; g = g->next) {
        if (g == graph) {
            return g;
        }
    }
    return NULL;
}

static struct emu_graph_exec *resolve_exec(struct emu_ctx *ctx, struct emu_graph_exec *exec) {
    for (struct emu_graph_exec *e = ctx->execs; e != NULL; e = e->next) {
        if (e == exec) {
            return e;
        }
    }
    return NULL;
}

EXPORT CUresult cuGraphInstantiateWithFlags(struct emu_graph_exec **out, struct emu_graph *graph,
                                            unsigned long long flags) {
    ENTER_CONTEXT(ctx);
    struct emu_graph *g = resolve_graph(ctx, graph);
    if (g == NULL || out == NULL) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphInstantiate of an unknown graph");
    }
    if (flags != 0) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphInstantiate flags 0x%llx: the emulator takes none", flags);
    }
    struct emu_graph_exec *e = calloc(1, sizeof *e);
    if (e == NULL || (e->nodes = calloc((size_t) g->count + 1, sizeof *e->nodes)) == NULL) {
        free(e);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    e->ctx = ctx;
    for (emu_work *w = g->head; w != NULL; w = w->next) {
        if ((e->nodes[e->count] = copy_work(w)) == NULL) {
            free_exec(e);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        e->count++;
    }
    e->next = ctx->execs;
    ctx->execs = e;
    *out = e;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuGraphLaunch(struct emu_graph_exec *exec, CUstream stream) {
    ENTER_CONTEXT(ctx);
    struct emu_graph_exec *e = resolve_exec(ctx, exec);
    struct emu_stream *s = resolve_stream(ctx, stream);
    if (e == NULL || s == NULL) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuGraphLaunch of an unknown %s", e == NULL ? "graph exec" : "stream");
    }
    if (s->capture != NULL) {
        return invalidate_capture(s, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
                                  "cuGraphLaunch (the emulator records no graph launches into graphs)");
    }
    if (s->legacy) {
        CUresult r = check_legacy_use(ctx, "cuGraphLaunch on the legacy stream");
        if (r != CUDA_SUCCESS) {
            return r;
        }
    }
    emu_work *w = new_work(WORK_GRAPH);
    if (w == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    w->u.graph.exec = e;
    e->queued++;
    return submit(s, w);
}

/* As on a GPU, an executable graph may be destroyed while a launch of it is queued: that launch completes first. */
EXPORT CUresult cuGraphExecDestroy(struct emu_graph_exec *exec) {
    ENTER_CONTEXT(ctx);
    for (struct emu_graph_exec **link = &ctx->execs; *link != NULL; link = &(*link)->next) {
        if (*link == exec) {
            if (exec->queued > 0) {
                synchronize_context(ctx);
            }
            *link = exec->next;
            free_exec(exec);
            return CUDA_SUCCESS;
        }
    }
    return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphExecDestroy of an unknown graph exec");
}

EXPORT CUresult cuGraphDestroy(struct emu_graph *graph) {
    ENTER_CONTEXT(ctx);
    for (struct emu_graph **link = &ctx->graphs; *link != NULL; link = &(*link)->next) {
        if (*link == graph) {
            *link = graph->next;
            free_graph(graph);
            return CUDA_SUCCESS;
        }
    }
    return fail(CUDA_ERROR_INVALID_VALUE, "cuGraphDestroy of an unknown graph");
}

/* ---- modules: the real NVRTC image ------------------------------------------------------- */

/* The highest PTX ISA version (major*10+minor) a driver of CUDA version v loads. */
static int max_ptx_isa(int v) {
    static const int table[][2] = {{12000, 80}, {12010, 81}, {12020, 82}, {12030, 83}, {12040, 84},
                                   {12050, 85}, {12070, 86}, {12080, 87}, {12090, 88}, {13000, 90}};
    int isa = 78;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (v >= table[i][0]) {
            isa = table[i][1];
        }
    }
    return isa;
}

typedef struct {
    char **names;
    int count;
} entry_list;

static int add_entry(entry_list *list, const char *name, size_t length) {
    char **grown = realloc(list->names, (size_t) (list->count + 1) * sizeof *grown);
    if (grown == NULL) {
        return 0;
    }
    list->names = grown;
    list->names[list->count] = strndup(name, length);
    return list->names[list->count++] != NULL;
}

/* CUBIN (ELF, EM_CUDA): the architecture must run on the device; the entries are STO_CUDA_ENTRY functions. */
static CUresult read_cubin(const uint8_t *image, const emu_device *d, entry_list *entries) {
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *) image;
    if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_CUDA_MACHINE) {
        return fail(CUDA_ERROR_INVALID_IMAGE, "the ELF image is not a 64-bit CUDA CUBIN");
    }
    if (eh->e_ident[EI_ABIVERSION] != 7) {
        return fail(CUDA_ERROR_INVALID_IMAGE, "CUBIN ELF ABI version %d: the emulator reads version 7 (CUDA 12.x)",
                    eh->e_ident[EI_ABIVERSION]);
    }
    int sm = (int) (eh->e_flags & 0xff);
    int arch_specific = (eh->e_flags & 0x800) != 0;
    if (sm / 10 != d->major || sm % 10 > d->minor || (arch_specific && sm % 10 != d->minor)) {
        return fail(CUDA_ERROR_NO_BINARY_FOR_GPU, "a CUBIN for sm_%d%s cannot run on this sm_%d%d device",
                    sm, arch_specific ? "a" : "", d->major, d->minor);
    }
    const Elf64_Shdr *sections = (const Elf64_Shdr *) (image + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sections[i].sh_type != SHT_SYMTAB) {
            continue;
        }
        const Elf64_Sym *symbols = (const Elf64_Sym *) (image + sections[i].sh_offset);
        const char *names = (const char *) (image + sections[sections[i].sh_link].sh_offset);
        for (size_t s = 0; s < sections[i].sh_size / sizeof(Elf64_Sym); s++) {
            if (ELF64_ST_TYPE(symbols[s].st_info) == STT_FUNC && (symbols[s].st_other & STO_CUDA_ENTRY)) {
                const char *name = names + symbols[s].st_name;
                if (!add_entry(entries, name, strlen(name))) {
                    return CUDA_ERROR_OUT_OF_MEMORY;
                }
            }
        }
    }
    return CUDA_SUCCESS;
}

/* PTX text: its .version must be one this driver knows and its .target not above the device. */
static CUresult read_ptx(const char *ptx, const emu_device *d, entry_list *entries) {
    const char *version = strstr(ptx, ".version ");
    const char *target = strstr(ptx, ".target sm_");
    int isa_major, isa_minor, sm;
    if (version == NULL || target == NULL || sscanf(version, ".version %d.%d", &isa_major, &isa_minor) != 2
        || sscanf(target, ".target sm_%d", &sm) != 1) {
        return fail(CUDA_ERROR_INVALID_PTX, "the image is neither a CUBIN nor PTX with .version and .target");
    }
    int isa = isa_major * 10 + isa_minor;
    if (isa > max_ptx_isa(driver_version)) {
        return fail(CUDA_ERROR_UNSUPPORTED_PTX_VERSION, "ptxas application ptx input: Unsupported .version %d.%d;"
                    " current version is '%d.%d' (driver CUDA %d.%d)", isa_major, isa_minor,
                    max_ptx_isa(driver_version) / 10, max_ptx_isa(driver_version) % 10, driver_version / 1000,
                    driver_version % 1000 / 10);
    }
    if (sm > d->major * 10 + d->minor) {
        return fail(CUDA_ERROR_INVALID_PTX, "ptxas fatal: PTX .target sm_%d is above this sm_%d%d device",
                    sm, d->major, d->minor);
    }
    for (const char *p = strstr(ptx, ".entry "); p != NULL; p = strstr(p + 1, ".entry ")) {
        const char *name = p + strlen(".entry ");
        size_t length = strcspn(name, "( \t\n");
        if (!add_entry(entries, name, length)) {
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
    }
    return CUDA_SUCCESS;
}

static const emu_kernel *host_kernel(const char *name) {
    for (int i = 0; i < emu_kernel_count; i++) {
        if (strcmp(emu_kernels[i].name, name) == 0) {
            return &emu_kernels[i];
        }
    }
    return NULL;
}

/* Writes a failure into the caller's JIT error log, as the driver's JIT does. */
static void write_jit_log(unsigned count, const int *options, void **values, const char *text) {
    char *buffer = NULL;
    size_t size = 0;
    for (unsigned i = 0; i < count; i++) {
        if (options[i] == CU_JIT_ERROR_LOG_BUFFER) {
            buffer = values[i];
        } else if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES) {
            size = (size_t) (uintptr_t) values[i];
        }
    }
    if (buffer != NULL && size > 0) {
        snprintf(buffer, size, "%s", text);
    }
}

static CUresult load_module(CUmodule *out, const void *image, unsigned count, const int *options, void **values) {
    struct emu_ctx *ctx;
    CUresult r = current_context(&ctx);
    if (r != CUDA_SUCCESS) {
        return r;
    }
    if (image == NULL) {
        return fail(CUDA_ERROR_INVALID_VALUE, "cuModuleLoadData of NULL");
    }
    if ((r = check_unsafe_call("cuModuleLoadData")) != CUDA_SUCCESS) {
        return r;
    }
    entry_list entries = {NULL, 0};
    const emu_device *d = &devices[ctx->device];
    r = memcmp(image, ELFMAG, SELFMAG) == 0 ? read_cubin(image, d, &entries) : read_ptx(image, d, &entries);
    struct emu_module *m = r == CUDA_SUCCESS ? calloc(1, sizeof *m) : NULL;
    if (m == NULL || (m->functions = calloc((size_t) entries.count + 1, sizeof *m->functions)) == NULL) {
        if (r == CUDA_SUCCESS) {
            r = CUDA_ERROR_OUT_OF_MEMORY;
        }
        write_jit_log(count, options, values, last_why);
        for (int i = 0; i < entries.count; i++) {
            free(entries.names[i]);
        }
        free(entries.names);
        free(m);
        return r;
    }
    m->ctx = ctx;
    m->count = entries.count;
    m->entries = entries.names;
    for (int i = 0; i < entries.count; i++) {
        m->functions[i].kernel = host_kernel(entries.names[i]);
        m->functions[i].module = m;
    }
    m->next = ctx->modules;
    ctx->modules = m;
    *out = m;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleLoadData(CUmodule *out, const void *image) {
    LOCKED;
    return load_module(out, image, 0, NULL, NULL);
}

EXPORT CUresult cuModuleLoadDataEx(CUmodule *out, const void *image, unsigned count, int *options, void **values) {
    LOCKED;
    return load_module(out, image, count, options, values);
}

static struct emu_module *resolve_module(struct emu_ctx *ctx, CUmodule module) {
    for (struct emu_module *m = ctx->modules; m != NULL; m = m->next) {
        if (m == module) {
            return m;
        }
    }
    return NULL;
}

EXPORT CUresult cuModuleGetFunction(CUfunction *out, CUmodule module, const char *name) {
    ENTER_CONTEXT(ctx);
    struct emu_module *m = resolve_module(ctx, module);
    if (m == NULL) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuModuleGetFunction on an unknown module");
    }
    for (int i = 0; i < m->count; i++) {
        if (strcmp(m->entries[i], name) != 0) {
            continue;
        }
        const emu_kernel *k = m->functions[i].kernel;
        if (k == NULL) {
            return fail(CUDA_ERROR_NOT_FOUND, "the image has an entry %s, but the emulator has no host build of"
                        " it: rebuild the tests (mvn test-compile) after changing kernels/", name);
        }
        if (k->refused != NULL) {
            return fail(CUDA_ERROR_NOT_SUPPORTED, "kernel %s %s", name, k->refused);
        }
        *out = &m->functions[i];
        return CUDA_SUCCESS;
    }
    return fail(CUDA_ERROR_NOT_FOUND, "the module image has no entry named %s", name);
}

EXPORT CUresult cuModuleUnload(CUmodule module) {
    ENTER_CONTEXT(ctx);
    CUresult unsafe = check_unsafe_call("cuModuleUnload");
    if (unsafe != CUDA_SUCCESS) {
        return unsafe;
    }
    for (struct emu_module **link = &ctx->modules; *link != NULL; link = &(*link)->next) {
        if (*link == module) {
            synchronize_context(ctx);          /* no queued launch may outlive its module */
            *link = module->next;
            for (int i = 0; i < module->count; i++) {
                free(module->entries[i]);
            }
            free(module->entries);
            free(module->functions);
            free(module);
            return CUDA_SUCCESS;
        }
    }
    return fail(CUDA_ERROR_INVALID_HANDLE, "cuModuleUnload of an unknown module");
}

/* ---- launches ----------------------------------------------------------------------------- */

static int function_of(struct emu_ctx *ctx, CUfunction f) {
    for (struct emu_module *m = ctx->modules; m != NULL; m = m->next) {
        if (f >= m->functions && f < m->functions + m->count) {
            return 1;
        }
    }
    return 0;
}

EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                               unsigned bz, unsigned shared_bytes, CUstream stream, void **params, void **extra) {
    ENTER_CONTEXT(ctx);
    if (f == NULL || !function_of(ctx, f)) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "cuLaunchKernel of a function of no loaded module");
    }
    const emu_kernel *k = f->kernel;
    struct emu_stream *s = resolve_stream(ctx, stream);
    if (s == NULL) {
        return fail(CUDA_ERROR_INVALID_HANDLE, "kernel %s launched on an unknown stream", k->name);
    }
    if (s->legacy) {
        CUresult r = check_legacy_use(ctx, "cuLaunchKernel on the legacy stream");
        if (r != CUDA_SUCCESS) {
            return r;
        }
    }
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0 || bx > 1024 || by > 1024 || bz > 64
        || (uint64_t) bx * by * bz > MAX_THREADS_PER_BLOCK || gx > 2147483647u || gy > 65535 || gz > 65535) {
        return fail(CUDA_ERROR_INVALID_VALUE, "kernel %s<<<(%u,%u,%u), (%u,%u,%u)>>>: launch dimensions beyond"
                    " the device's limits", k->name, gx, gy, gz, bx, by, bz);
    }
    if (shared_bytes > 0) {
        return fail(CUDA_ERROR_NOT_SUPPORTED, "kernel %s asks for %u bytes of dynamic shared memory: the emulator"
                    " runs the threads of a block one after another and cannot share memory between them",
                    k->name, shared_bytes);
    }
    if (extra != NULL) {
        return fail(CUDA_ERROR_NOT_SUPPORTED, "kernel %s: the emulator takes arguments in kernelParams only",
                    k->name);
    }
    size_t count = strlen(k->signature);
    if (count > 0 && params == NULL) {
        return fail(CUDA_ERROR_INVALID_VALUE, "kernel %s takes %zu parameters, kernelParams is NULL", k->name, count);
    }
    emu_work *w = new_work(WORK_KERNEL);
    emu_arg *args = calloc(count + 1, sizeof *args);
    if (w == NULL || args == NULL) {
        free(w);
        free(args);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < count; i++) {
        switch (k->signature[i]) {
        case 'p': memcpy(&args[i].p, params[i], sizeof args[i].p); break;
        case 'i': memcpy(&args[i].i, params[i], sizeof args[i].i); break;
        default: memcpy(&args[i].f, params[i], sizeof args[i].f); break;
        }
    }
    w->u.launch.kernel = k;
    w->u.launch.grid = (emu_dim3) {gx, gy, gz};
    w->u.launch.block = (emu_dim3) {bx, by, bz};
    w->u.launch.args = args;
    return submit(s, w);
}

/* ---- errors ---------------------------------------------------------------------------------- */

static const char *error_name(CUresult e) {
    switch (e) {
    case CUDA_SUCCESS: return "CUDA_SUCCESS";
    case CUDA_ERROR_INVALID_VALUE: return "CUDA_ERROR_INVALID_VALUE";
    case CUDA_ERROR_OUT_OF_MEMORY: return "CUDA_ERROR_OUT_OF_MEMORY";
    case CUDA_ERROR_NOT_INITIALIZED: return "CUDA_ERROR_NOT_INITIALIZED";
    case CUDA_ERROR_NO_DEVICE: return "CUDA_ERROR_NO_DEVICE";
    case CUDA_ERROR_INVALID_DEVICE: return "CUDA_ERROR_INVALID_DEVICE";
    case CUDA_ERROR_INVALID_IMAGE: return "CUDA_ERROR_INVALID_IMAGE";
    case CUDA_ERROR_INVALID_CONTEXT: return "CUDA_ERROR_INVALID_CONTEXT";
    case CUDA_ERROR_NO_BINARY_FOR_GPU: return "CUDA_ERROR_NO_BINARY_FOR_GPU";
    case CUDA_ERROR_INVALID_PTX: return "CUDA_ERROR_INVALID_PTX";
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION: return "CUDA_ERROR_UNSUPPORTED_PTX_VERSION";
    case CUDA_ERROR_INVALID_HANDLE: return "CUDA_ERROR_INVALID_HANDLE";
    case CUDA_ERROR_ILLEGAL_STATE: return "CUDA_ERROR_ILLEGAL_STATE";
    case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED: return "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED";
    case CUDA_ERROR_STREAM_CAPTURE_INVALIDATED: return "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED";
    case CUDA_ERROR_STREAM_CAPTURE_IMPLICIT: return "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT";
    case CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD: return "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD";
    case CUDA_ERROR_NOT_FOUND: return "CUDA_ERROR_NOT_FOUND";
    case CUDA_ERROR_NOT_READY: return "CUDA_ERROR_NOT_READY";
    case CUDA_ERROR_ILLEGAL_ADDRESS: return "CUDA_ERROR_ILLEGAL_ADDRESS";
    case CUDA_ERROR_NOT_SUPPORTED: return "CUDA_ERROR_NOT_SUPPORTED";
    default: return NULL;
    }
}

static const char *error_text(CUresult e) {
    switch (e) {
    case CUDA_SUCCESS: return "no error";
    case CUDA_ERROR_INVALID_VALUE: return "invalid argument";
    case CUDA_ERROR_OUT_OF_MEMORY: return "out of memory";
    case CUDA_ERROR_NOT_INITIALIZED: return "initialization error";
    case CUDA_ERROR_NO_DEVICE: return "no CUDA-capable device is detected";
    case CUDA_ERROR_INVALID_DEVICE: return "invalid device ordinal";
    case CUDA_ERROR_INVALID_IMAGE: return "device kernel image is invalid";
    case CUDA_ERROR_INVALID_CONTEXT: return "invalid device context";
    case CUDA_ERROR_NO_BINARY_FOR_GPU: return "no kernel image is available for execution on the device";
    case CUDA_ERROR_INVALID_PTX: return "a PTX JIT compilation failed";
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION: return "the provided PTX was compiled with an unsupported toolchain.";
    case CUDA_ERROR_INVALID_HANDLE: return "invalid resource handle";
    case CUDA_ERROR_ILLEGAL_STATE: return "the operation cannot be performed in the present state";
    case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED: return "operation not permitted when stream is capturing";
    case CUDA_ERROR_STREAM_CAPTURE_INVALIDATED: return "operation failed due to a previous error during capture";
    case CUDA_ERROR_STREAM_CAPTURE_IMPLICIT:
        return "operation would make the legacy stream depend on a capturing blocking stream";
    case CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD:
        return "attempt to terminate a thread-local capture sequence from another thread";
    case CUDA_ERROR_NOT_FOUND: return "named symbol not found";
    case CUDA_ERROR_NOT_READY: return "device not ready";
    case CUDA_ERROR_ILLEGAL_ADDRESS: return "an illegal memory access was encountered";
    case CUDA_ERROR_NOT_SUPPORTED: return "operation not supported";
    default: return NULL;
    }
}

EXPORT CUresult cuGetErrorName(CUresult e, const char **out) {
    *out = error_name(e);
    return *out != NULL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* The driver's text, followed by what the emulator found when it is this error's cause. */
EXPORT CUresult cuGetErrorString(CUresult e, const char **out) {
    LOCKED;
    static char text[800];
    const char *base = error_text(e);
    if (base == NULL) {
        *out = NULL;
        return CUDA_ERROR_INVALID_VALUE;
    }
    const char *why = alive(current) && current->sticky == e ? current->sticky_why : last_error == e ? last_why : "";
    if (why[0] != '\0') {
        snprintf(text, sizeof text, "%s; bptt CUDA emulator: %s", base, why);
        *out = text;
    } else {
        *out = base;
    }
    return CUDA_SUCCESS;
}
