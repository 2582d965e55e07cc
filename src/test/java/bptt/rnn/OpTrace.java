// OpTrace: a Backend proxy that hashes every compute op a workspace issues, operands included, to compare op sequences across versions.
package bptt.rnn;

import bptt.backend.Backend;
import bptt.tensor.DeviceMemory;
import bptt.tensor.Tensor;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32;

/**
 * Wraps a backend so that every compute op (GEMM, fill, copy, the cells' and the output's
 * kernels, ...) is forwarded and folded into a SHA-256 digest: the method, every scalar, and
 * each tensor as (allocation, offset, rows, cols, ld), allocations numbered in order of first
 * use. Memory traffic (alloc, free, uploads, downloads, host staging) is forwarded without being
 * recorded. Tensors in the allocations {@link #data} names — the window's inputs and targets —
 * are recorded by their contents instead of their place, since where a window's data sit on the
 * device is exactly what may change while the computation must not. Two runs with the same digest
 * issued the same ops on the same operands, so a deterministic backend gave the same bits.
 */
final class OpTrace {
    private static final Set<String> UNRECORDED = Set.of("alloc", "free", "upload", "download", "uploadDoubles",
            "downloadDoubles", "allocatedBytes", "peakAllocatedBytes", "resetPeak", "maxTensorFloats",
            "availableBytes", "synchronize", "name", "deviceDescription", "close", "allocStaging", "freeStaging", "uploadStaged",
            "stagingBytes", "peakStagingBytes", "hashCode", "equals", "toString");

    private final Backend inner;
    private final Map<DeviceMemory, Integer> numbers = new IdentityHashMap<>();
    private final Map<DeviceMemory, Boolean> data = new IdentityHashMap<>();
    private final MessageDigest digest;
    private long ops;

    private OpTrace(Backend inner) {
        this.inner = inner;
        try {
            this.digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The traced backend and its trace; close the backend through {@code inner}. */
    static OpTrace of(Backend inner) { return new OpTrace(inner); }

    /** A Backend that forwards to the inner one and records into this trace. */
    Backend backend() {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class},
                (proxy, method, args) -> {
                    if (!UNRECORDED.contains(method.getName())) {
                        record(method.getName(), args);
                    }
                    try {
                        return method.invoke(inner, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    /** Marks an allocation whose tensors are recorded by contents (the window's inputs or targets). */
    void data(Tensor root) { data.put(root.memory(), Boolean.TRUE); }

    /** Compute ops recorded so far. */
    long ops() { return ops; }

    /** The digest of every op so far, as hex. */
    String hex() {
        try {
            return HexFormat.of().formatHex(((MessageDigest) digest.clone()).digest());
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException(e);
        }
    }

    private void record(String op, Object[] args) {
        StringBuilder s = new StringBuilder(op);
        if (args != null) {
            for (Object a : args) {
                s.append('|');
                if (a instanceof Tensor t) {
                    if (data.containsKey(t.memory())) {
                        s.append("data").append(t.shape()).append(crc(inner.download(t)));
                    } else {
                        s.append('m').append(numbers.computeIfAbsent(t.memory(), m -> numbers.size())).append('@')
                                .append(t.offset()).append(t.shape()).append(t.ld());
                    }
                } else if (a instanceof Float f) {
                    s.append(Integer.toHexString(Float.floatToRawIntBits(f)));
                } else {
                    s.append(a);
                }
            }
        }
        digest.update(s.append('\n').toString().getBytes(StandardCharsets.UTF_8));
        ops++;
    }

    /** CRC-32 of floats' bit patterns. */
    static long crc(float[] values) {
        CRC32 crc = new CRC32();
        for (float v : values) {
            int b = Float.floatToRawIntBits(v);
            crc.update(b);
            crc.update(b >>> 8);
            crc.update(b >>> 16);
            crc.update(b >>> 24);
        }
        return crc.getValue();
    }
}
