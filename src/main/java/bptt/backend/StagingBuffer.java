// StagingBuffer: host memory a backend provides for a window's inputs or targets, at a fixed address, uploaded in stream order.
package bptt.backend;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * {@code length} values in one {@link Encoding}, little-endian, in host memory that stays at one
 * address until {@link Backend#freeStaging}: pinned (page-locked) on cuda, a direct buffer on cpu
 * and opencl, a Java array on cpu-ref. The host writes values here; {@link Backend#uploadStaged}
 * copies a range of them into a device tensor as a stream-ordered copy, which a CUDA graph
 * records as a memcpy node. Token ids and targets take the smallest integer encoding that holds
 * them ({@link Encoding#forIds}), so a window of T·B ids costs T·B bytes for V ≤ 128, not 4·T·B.
 *
 * <p>Values written while an upload from them may still be pending on the device are a race:
 * write only after the backend has synchronized (any download, {@link Backend#sumOfSquares} or
 * {@link Backend#synchronize}).
 */
public class StagingBuffer {

    /** How one value is stored. Integers are two's complement; every encoding widens to float exactly. */
    public enum Encoding {
        INT8(1), INT16(2), INT32(4), FLOAT32(4);

        /** Bytes per value. */
        public final int bytes;

        Encoding(int bytes) { this.bytes = bytes; }

        /** The smallest integer encoding that holds every id in [0, limit) and −1 ("no target"). */
        public static Encoding forIds(int limit) {
            return limit <= Byte.MAX_VALUE + 1 ? INT8 : limit <= Short.MAX_VALUE + 1 ? INT16 : INT32;
        }

        public boolean isInteger() { return this != FLOAT32; }

        /** Whether the integer v is representable. */
        boolean holds(int v) {
            return switch (this) {
                case INT8 -> v >= Byte.MIN_VALUE && v <= Byte.MAX_VALUE;
                case INT16 -> v >= Short.MIN_VALUE && v <= Short.MAX_VALUE;
                case INT32 -> true;
                case FLOAT32 -> false;
            };
        }
    }

    /** Where a backend keeps its staging buffers' host memory. */
    public enum Place {
        JAVA_HEAP("Java heap"), NATIVE("native memory"), PINNED("pinned memory");

        private final String description;

        Place(String description) { this.description = description; }

        public String description() { return description; }
    }

    /**
     * How a backend stages, for memory plans: where the host memory lives, and whether integer
     * uploads go through a device scratch of maxUpload values of their width (then widened there).
     */
    public record Layout(Place place, boolean deviceScratch) {
        /** What {@link AbstractBackend} does unless a backend says otherwise. */
        public static final Layout HEAP = new Layout(Place.JAVA_HEAP, false);
    }

    private final Object owner;
    private final ByteBuffer bytes;
    private final long length;
    private final Encoding encoding;
    private final int maxUpload;

    /**
     * A buffer over {@code bytes} (at least length·encoding.bytes of them, zeroed), owned by
     * {@code owner}, from which uploads copy at most {@code maxUpload} values.
     */
    protected StagingBuffer(Object owner, ByteBuffer bytes, long length, Encoding encoding, int maxUpload) {
        this.owner = owner;
        this.bytes = bytes.order(ByteOrder.LITTLE_ENDIAN);
        this.length = length;
        this.encoding = encoding;
        this.maxUpload = maxUpload;
    }

    /** A staging buffer in a Java array (what cpu-ref and test backends use). */
    static StagingBuffer onHeap(Object owner, long length, Encoding encoding, int maxUpload) {
        return new StagingBuffer(owner, ByteBuffer.allocate(Math.toIntExact(length * encoding.bytes)), length, encoding,
                maxUpload);
    }

    /** A staging buffer in native memory outside the Java heap (a direct buffer). */
    public static StagingBuffer direct(Object owner, long length, Encoding encoding, int maxUpload) {
        return new StagingBuffer(owner, ByteBuffer.allocateDirect(Math.toIntExact(length * encoding.bytes)), length,
                encoding, maxUpload);
    }

    /** The backend that allocated this buffer. */
    public final Object owner() { return owner; }

    /** Values held. */
    public final long length() { return length; }

    public final Encoding encoding() { return encoding; }

    /** The most values one upload copies: the size of the device tensors it feeds. */
    public final int maxUpload() { return maxUpload; }

    /** Host bytes this buffer occupies. */
    public final long byteSize() { return length * encoding.bytes; }

    /** The bytes, little-endian, value i at byte i·encoding.bytes: what a backend copies from. */
    protected final ByteBuffer bytes() { return bytes; }

    /** Stores the integer v at index i; fails if the encoding cannot hold it. */
    public final void putInt(long i, int v) {
        int at = byteIndex(i);
        if (!encoding.holds(v)) {
            throw new IllegalArgumentException(v + " does not fit a " + encoding + " staging buffer");
        }
        switch (encoding) {
            case INT8 -> bytes.put(at, (byte) v);
            case INT16 -> bytes.putShort(at, (short) v);
            default -> bytes.putInt(at, v);
        }
    }

    /** Stores the integer v at every index. */
    public final void fillInt(int v) {
        if (length > 0) {
            putInt(0, v);
            for (long i = 1; i < length; i++) {
                putInt(i, v);
            }
        }
    }

    /** The integer at index i. */
    public final int getInt(long i) {
        int at = byteIndex(i);
        return switch (encoding) {
            case INT8 -> bytes.get(at);
            case INT16 -> bytes.getShort(at);
            case INT32 -> bytes.getInt(at);
            case FLOAT32 -> throw new IllegalStateException("a FLOAT32 staging buffer holds floats, not integers");
        };
    }

    /** Stores the float v at index i of a FLOAT32 buffer. */
    public final void putFloat(long i, float v) {
        int at = byteIndex(i);
        requireFloats();
        bytes.putFloat(at, v);
    }

    /** Stores values[0..n) at indices at, at+1, … of a FLOAT32 buffer. */
    public final void putFloats(long at, float[] values, int from, int n) {
        requireFloats();
        if (n > 0) {
            byteIndex(at + n - 1);
            bytes.asFloatBuffer().put(byteIndex(at) / Float.BYTES, values, from, n);
        }
    }

    /** The value at index i as a float: exact for every encoding. */
    public final float value(long i) {
        return encoding == Encoding.FLOAT32 ? bytes.getFloat(byteIndex(i)) : getInt(i);
    }

    /** dst[dstIndex, dstIndex + n) = the values from first on, as floats (exact): a host-side upload. */
    public final void copyTo(long first, FloatBuffer dst, int dstIndex, int n) {
        if (n <= 0) {
            return;
        }
        int from = byteIndex(first) / encoding.bytes;
        byteIndex(first + n - 1);
        switch (encoding) {
            case FLOAT32 -> dst.put(dstIndex, bytes.asFloatBuffer(), from, n);
            case INT8 -> {
                for (int i = 0; i < n; i++) {
                    dst.put(dstIndex + i, bytes.get(from + i));
                }
            }
            case INT16 -> {
                for (int i = 0; i < n; i++) {
                    dst.put(dstIndex + i, bytes.getShort((from + i) * 2));
                }
            }
            case INT32 -> {
                for (int i = 0; i < n; i++) {
                    dst.put(dstIndex + i, bytes.getInt((from + i) * 4));
                }
            }
        }
    }

    private void requireFloats() {
        if (encoding != Encoding.FLOAT32) {
            throw new IllegalStateException("a " + encoding + " staging buffer holds integers, not floats");
        }
    }

    private int byteIndex(long i) {
        if (i < 0 || i >= length) {
            throw new IndexOutOfBoundsException("index " + i + " outside a staging buffer of " + length + " values");
        }
        return (int) (i * encoding.bytes);
    }
}
