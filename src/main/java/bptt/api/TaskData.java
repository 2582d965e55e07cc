// TaskData: a generated long-range task (copy memory, adding problem) as a Dataset.
package bptt.api;

import bptt.train.SyntheticTask;

/** Windows are drawn from the seed; validation windows from a seed no training window uses. */
final class TaskData extends BuiltinData {
    /** Any window length the tasks accept, to read their model's shape. */
    private static final int SHAPE_STEPS = 64;

    private final String name;
    private final long seed;
    private final ModelSpec shape;

    private TaskData(String name, long seed) {
        this.name = name;
        this.seed = seed;
        this.shape = ModelSpec.of(SyntheticTask.create(name, 1, SHAPE_STEPS, seed).model(ModelSpec.DEFAULT_HIDDEN, 1), null);
    }

    static TaskData of(String name, long seed) { return new TaskData(name, seed); }

    @Override
    SyntheticTask create(int batch, int steps) { return SyntheticTask.create(name, batch, steps, seed); }

    @Override
    public ModelSpec shape() { return shape; }

    /** The task scores held-out windows of its own. */
    @Override
    public Dataset heldOut() { return this; }

    @Override
    public String description() { return name + " task, seed " + seed; }
}
