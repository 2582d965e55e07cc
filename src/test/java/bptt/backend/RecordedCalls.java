// RecordedCalls: KernelCalls that record every launch (kernel, arguments, threads) instead of running it.
package bptt.backend;

import bptt.tensor.DeviceMemory;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Runs an op of {@link KernelCalls} without a device and keeps what it would launch, for the
 * tests of the kernels' ABI, thread counts and launch counts. Scratch memory is one fake
 * allocation of the size the op asked for last.
 */
public final class RecordedCalls extends KernelCalls {

    /** One kernel argument: a buffer (allocation, offset in floats, size), an int or a float. */
    public record Arg(Kind kind, DeviceMemory memory, long value, float floatValue) {
        public enum Kind { BUFFER, INT, FLOAT }
    }

    /** One launch: the kernel, its arguments in order and its thread count. */
    public record Call(String kernel, List<Arg> args, long threads) { }

    /** The scratch allocation every op of this recorder gets. */
    public final DeviceMemory scratchMemory = new DeviceMemory() {
        @Override
        public long capacity() { return scratchAsked; }

        @Override
        public Object owner() { return RecordedCalls.this; }
    };

    private final List<Call> calls = new ArrayList<>();
    private long scratchAsked;

    /** The launches {@code op} makes, in order. */
    public static List<Call> of(Consumer<KernelCalls> op) {
        RecordedCalls r = new RecordedCalls();
        op.accept(r);
        return r.calls;
    }

    /** The recorder's launches so far. */
    public List<Call> calls() { return calls; }

    /** The most floats of scratch an op asked for. */
    public long scratchAsked() { return scratchAsked; }

    @Override
    protected Args begin(String kernel) {
        List<Arg> args = new ArrayList<>();
        return new Args() {
            @Override
            public Args buf(DeviceMemory memory, long offset, long size) {
                args.add(new Arg(Arg.Kind.BUFFER, memory, offset, 0f));
                return this;
            }

            @Override
            public Args i(long value) {
                args.add(new Arg(Arg.Kind.INT, null, value, 0f));
                return this;
            }

            @Override
            public Args f(float value) {
                args.add(new Arg(Arg.Kind.FLOAT, null, 0, value));
                return this;
            }

            @Override
            public void run(long threads) { calls.add(new Call(kernel, List.copyOf(args), threads)); }
        };
    }

    @Override
    protected DeviceMemory scratch(long floats) {
        scratchAsked = Math.max(scratchAsked, floats);
        return scratchMemory;
    }
}
