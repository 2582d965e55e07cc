// TrainingState: a Trainer's whole state as a Checkpoint (weights, optimizer, hidden state, position), and back.
package bptt.train;

import bptt.backend.Backend;
import bptt.rnn.ParameterLayout;
import bptt.rnn.RnnConfig;
import bptt.tensor.Tensor;
import bptt.train.SafetensorsFile.TensorData;
import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The checkpoint holds the PyTorch-named weights (see {@link CheckpointIo}) plus, for
 * {@code --resume}: the optimizer's state slabs ({@code optim.*}, (1, P) each), every layer's
 * carried hidden state ({@code state.h}, [L, B, H], and for LSTM the cell state {@code state.c},
 * [L, B, H], PyTorch's (h, c)), the loss history ({@code metrics.history},
 * [n, 2] of step and loss) and metadata: {@code train} (the settings as JSON), {@code step},
 * {@code epoch}, {@code window} (the data position) and {@code rng} (sampling draws from
 * seed + step, so the seed is the whole RNG state).
 */
public final class TrainingState {
    private static final Gson GSON = new Gson();
    /** The settings every resumable checkpoint records (later ones, such as save_every, are optional). */
    private static final List<String> REQUIRED_SETTINGS = List.of("hidden", "layers", "batch", "seq_len", "steps", "lr",
            "optimizer", "clip", "seed", "val_fraction");

    private TrainingState() { }

    public static Checkpoint capture(Trainer trainer) {
        return capture(trainer, Map.of());
    }

    /**
     * The trainer's state; {@code options} are run settings the trainer does not hold (e.g.
     * {@code checkpoint_every}, {@code log}), stored with the others in the "train" metadata so
     * that --resume restores them.
     */
    public static Checkpoint capture(Trainer trainer, Map<String, String> options) {
        Backend be = trainer.rnn().backend();
        RnnConfig config = trainer.rnn().config();
        TrainSettings s = trainer.settings();
        Map<String, TensorData> extras = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : trainer.optimizer().state().entrySet()) {
            extras.put(e.getKey(), new TensorData(new int[]{(int) e.getValue().size()}, be.download(e.getValue())));
        }
        int h = config.hidden();
        float[] state = trainer.carriedState();
        int perState = config.layers() * s.batch() * h;
        int[] shape = {config.layers(), s.batch(), h};
        extras.put("state.h", new TensorData(shape, Arrays.copyOfRange(state, 0, perState)));
        if (config.cell().hasCellState()) {
            extras.put("state.c", new TensorData(shape, Arrays.copyOfRange(state, perState, 2 * perState)));
        }
        List<double[]> history = trainer.history();
        float[] hist = new float[history.size() * 2];
        for (int i = 0; i < history.size(); i++) {
            hist[2 * i] = (float) history.get(i)[0];
            hist[2 * i + 1] = (float) history.get(i)[1];
        }
        extras.put("metrics.history", new TensorData(new int[]{history.size(), 2}, hist));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("train", settingsJson(s, trainer.data(), options));
        meta.put("step", Integer.toString(trainer.step()));
        meta.put("epoch", Integer.toString(trainer.epoch()));
        meta.put("window", Integer.toString(trainer.window()));
        meta.put("rng", "{\"sampling\":\"seed+step\",\"seed\":" + s.seed() + "}");
        Vocabulary vocab = trainer.data().vocabulary();
        return new Checkpoint(config, vocab == null ? null : vocab.codePoints(), be.download(trainer.rnn().params()),
                extras, meta);
    }

    /**
     * Saves the trainer's state to {@code file} atomically unless it is not finite (then the run has
     * diverged and the last good checkpoint stays), and records it as the last good checkpoint. A
     * save that fails (a full disk) names the checkpoint still intact: "make room, then continue
     * {@code resumeWith} FILE", or, when none exists, "make room (or {@code elsewhere}) and train again".
     */
    public static void save(Trainer trainer, Path file, Map<String, String> options, String resumeWith, String elsewhere) {
        Checkpoint state = capture(trainer, options);
        String bad = unsafeReason(state);
        if (bad != null) {
            throw trainer.diverged(trainer.step(), bad + " (so step " + trainer.step() + " was not saved)");
        }
        try {
            CheckpointIo.save(file, state);
        } catch (CheckpointException e) {
            String kept = trainer.lastGoodCheckpoint();
            throw new CheckpointException(e.getMessage() + ". The state at step " + trainer.step() + " is lost; "
                    + (kept != null ? "the checkpoint " + kept + " (step " + trainer.lastGoodStep() + ") is intact:"
                    + " make room, then continue " + resumeWith + kept
                    : "no earlier checkpoint exists: make room (or " + elsewhere + ") and train again"), e);
        }
        trainer.setLastGoodCheckpoint(file.toString(), trainer.step());
    }

    /**
     * Weights whose forward pass could overflow float32 on some input: above this bound on a
     * logit or pre-activation a window's float sum of losses (up to 2^31 rows of 2·bound each)
     * may reach infinity. Trained models stay many orders of magnitude below it.
     */
    static final double MAX_ACTIVATION_BOUND = 1e28;

    /**
     * Why a checkpoint must not be kept as a run's good state, or null: a NaN or infinity
     * anywhere (weights, optimizer state, hidden state), or weights so large that evaluating it
     * can overflow float32. With token (or |x| ≤ 1) input and h in [-1, 1] (true of every cell:
     * tanh, o·tanh(c), and GRU's mix of n and h), gate row g of layer l has |pre| ≤ Σ_k |Waa[g,k]|
     * + |ba[g]| (+ |bh[g]|) + (Σ_k |Wax[g,k]|, or max_v |Wax[g,v]| for one-hot tokens), and logit
     * j has |y| ≤ Σ_h |Wya[j,h]| + |by[j]|.
     */
    public static String unsafeReason(Checkpoint checkpoint) {
        String nonFinite = CheckpointIo.firstNonFinite(checkpoint);
        if (nonFinite != null) {
            return nonFinite;
        }
        RnnConfig c = checkpoint.config();
        ParameterLayout layout = new ParameterLayout(c);
        float[] p = checkpoint.params();
        double worst = 0;
        String where = "";
        for (int l = 0; l < c.layers(); l++) {
            ParameterLayout.Entry wax = layout.entry(ParameterLayout.wax(l));
            ParameterLayout.Entry waa = layout.entry(ParameterLayout.waa(l));
            ParameterLayout.Entry ba = layout.entry(ParameterLayout.ba(l));
            ParameterLayout.Entry bh = c.cell().twoBiases() ? layout.entry(ParameterLayout.bh(l)) : null;
            boolean oneHot = l == 0 && c.tokenInput();
            for (int h = 0; h < c.gateWidth(); h++) {
                double bound = absRowSum(p, waa, h) + Math.abs(p[(int) ba.start() + h])
                        + (bh == null ? 0 : Math.abs(p[(int) bh.start() + h]))
                        + (oneHot ? absRowMax(p, wax, h) : absRowSum(p, wax, h));
                if (bound > worst) {
                    worst = bound;
                    where = "a pre-activation of layer " + l;
                }
            }
        }
        ParameterLayout.Entry wya = layout.entry("Wya");
        ParameterLayout.Entry by = layout.entry("by");
        for (int j = 0; j < c.outputSize(); j++) {
            double bound = absRowSum(p, wya, j) + Math.abs(p[(int) by.start() + j]);
            if (bound > worst) {
                worst = bound;
                where = "a logit";
            }
        }
        return worst > MAX_ACTIVATION_BOUND ? String.format(java.util.Locale.ROOT, "the weights are too large for float32:"
                + " %s can reach %.3g", where, worst) : null;
    }

    private static double absRowSum(float[] p, ParameterLayout.Entry e, int row) {
        double sum = 0;
        for (int k = 0; k < e.cols(); k++) {
            sum += Math.abs(p[(int) (e.start() + (long) row * e.cols() + k)]);
        }
        return sum;
    }

    private static double absRowMax(float[] p, ParameterLayout.Entry e, int row) {
        double max = 0;
        for (int k = 0; k < e.cols(); k++) {
            max = Math.max(max, Math.abs(p[(int) (e.start() + (long) row * e.cols() + k)]));
        }
        return max;
    }

    /** Loads weights only (--init-from): the model shape and vocabulary must match. */
    public static void loadWeights(Trainer trainer, Checkpoint checkpoint) {
        requireSameModel(trainer, checkpoint);
        trainer.rnn().backend().upload(checkpoint.params(), trainer.rnn().params());
    }

    /** Restores everything (--resume), so the run continues bit for bit. */
    public static void resume(Trainer trainer, Checkpoint checkpoint) {
        requireSameModel(trainer, checkpoint);
        Backend be = trainer.rnn().backend();
        TrainSettings s = trainer.settings();
        JsonObject saved = trainSettings(checkpoint);
        if (saved.get("batch").getAsInt() != s.batch() || saved.get("seq_len").getAsInt() != s.seqLen()) {
            throw new CheckpointException(checkpoint.where() + " was trained with --batch " + saved.get("batch")
                    + " --seq-len " + saved.get("seq_len") + "; resume with the same values (or use --init-from)");
        }
        if (!saved.get("optimizer").getAsString().equals(s.optimizer().name().toLowerCase())) {
            throw new CheckpointException(checkpoint.where() + " holds " + saved.get("optimizer").getAsString()
                    + " state; resume with --optimizer " + saved.get("optimizer").getAsString() + " (or use --init-from)");
        }
        be.upload(checkpoint.params(), trainer.rnn().params());
        for (Map.Entry<String, Tensor> e : trainer.optimizer().state().entrySet()) {
            be.upload(checkpoint.extra(e.getKey(), (int) e.getValue().size()), e.getValue());
        }
        RnnConfig config = trainer.rnn().config();
        int h = config.hidden();
        float[] state = checkpoint.extra("state.h", config.layers(), s.batch(), h);
        if (config.cell().hasCellState()) {
            float[] c = checkpoint.extra("state.c", config.layers(), s.batch(), h);
            state = Arrays.copyOf(state, 2 * state.length);
            System.arraycopy(c, 0, state, c.length, c.length);
        }
        trainer.restoreCarriedState(state);
        TensorData hist = checkpoint.extras().get("metrics.history");
        if (hist != null && hist.shape().length == 2) {
            for (int i = 0; i < hist.shape()[0]; i++) {
                trainer.history().add(new double[]{hist.values()[2 * i], hist.values()[2 * i + 1]});
            }
        }
        trainer.restorePosition(intMeta(checkpoint, "step"), intMeta(checkpoint, "epoch"), intMeta(checkpoint, "window"));
    }

    /** The settings a checkpoint was trained with, as saved in its "train" metadata. */
    public static JsonObject trainSettings(Checkpoint checkpoint) {
        String json = checkpoint.meta("train");
        JsonObject saved;
        try {
            saved = GSON.fromJson(json, JsonObject.class);
        } catch (JsonParseException | IllegalStateException e) {
            saved = null;
        }
        for (String key : REQUIRED_SETTINGS) {
            if (saved == null || !saved.has(key) || !saved.get(key).isJsonPrimitive()) {
                throw new CheckpointException(checkpoint.where() + " has unreadable \"train\" metadata ("
                        + (saved == null ? "not a JSON object" : "no \"" + key + "\"") + "): " + CheckpointIo.snippet(json)
                        + "; it cannot be resumed from: use --init-from to start from its weights only");
            }
        }
        return saved;
    }

    private static int intMeta(Checkpoint checkpoint, String key) {
        try {
            return Integer.parseInt(checkpoint.meta(key));
        } catch (NumberFormatException e) {
            throw new CheckpointException(checkpoint.where() + " has metadata " + key + "=\"" + checkpoint.meta(key)
                    + "\", not a whole number");
        }
    }

    private static void requireSameModel(Trainer trainer, Checkpoint checkpoint) {
        Vocabulary vocabulary = trainer.data().vocabulary();
        requireSameModel(trainer.rnn().config(), vocabulary == null ? null : vocabulary.codePoints(), checkpoint);
    }

    /**
     * Fails, naming what differs and what to pass, unless {@code checkpoint} holds a model of
     * {@code here}'s shape and, when {@code vocabulary} is not null, that vocabulary.
     */
    public static void requireSameModel(RnnConfig here, int[] vocabulary, Checkpoint checkpoint) {
        RnnConfig there = checkpoint.config();
        if (!here.equals(there)) {
            throw new CheckpointException(checkpoint.where() + " holds a " + there.cell().option() + " model of "
                    + there.layers() + " layer(s) × " + there.hidden() + " hidden with " + there.outputSize()
                    + " classes, but this run builds a " + here.cell().option() + " model of " + here.layers() + " × "
                    + here.hidden() + " with " + here.outputSize()
                    + "; pass the checkpoint's --cell/--hidden/--layers and the data it was trained on");
        }
        if (vocabulary != null) {
            checkpoint.requireVocab(vocabulary);
        }
    }

    private static String settingsJson(TrainSettings s, Dataset data, Map<String, String> options) {
        JsonObject o = new JsonObject();
        o.addProperty("task", data.kind());
        o.addProperty("data", data instanceof TextDataset text && text.corpus().file() != null
                ? text.corpus().file().toAbsolutePath().toString()
                : data instanceof TextDataset text ? text.corpus().source() : data.description());
        o.addProperty("cell", s.cell().option());
        o.addProperty("hidden", s.hidden());
        o.addProperty("layers", s.layers());
        o.addProperty("batch", s.batch());
        o.addProperty("seq_len", s.seqLen());
        o.addProperty("steps", s.steps());
        o.addProperty("lr", s.lr());
        o.addProperty("optimizer", s.optimizer().name().toLowerCase());
        o.addProperty("clip", s.clip());
        o.addProperty("seed", s.seed());
        o.addProperty("val_fraction", s.valFraction());
        o.addProperty("save_every", s.saveEvery());
        o.addProperty("eval_every", s.evalEvery());
        o.addProperty("sample_every", s.sampleEvery());
        options.forEach(o::addProperty);
        return GSON.toJson(o);
    }
}
