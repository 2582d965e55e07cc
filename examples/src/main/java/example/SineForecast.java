// SineForecast: bptt used as a library: an LSTM learns to forecast a noisy two-tone wave one step ahead.
package example;

import bptt.api.CellType;
import bptt.api.Device;
import bptt.api.Model;
import bptt.api.ModelSpec;
import bptt.api.Scores;
import bptt.api.Sequences;
import bptt.api.TrainOptions;

/** Trains on 3000 steps of dense data held in memory, then prints the held-out error and fails if it did not learn. */
public final class SineForecast {
    private SineForecast() { }

    public static void main(String[] args) {
        float[][] wave = new float[3000][1];                               // (T, D = 1)
        for (int t = 0; t < wave.length; t++) {
            wave[t][0] = (float) (Math.sin(0.07 * t) + 0.5 * Math.sin(0.19 * t));
        }
        Sequences data = Sequences.series(wave).forecast(1).holdOut(0.1);  // predict the next step
        try (Device device = Device.open(args.length > 0 ? args[0] : "auto");
             Model model = Model.create(device, ModelSpec.dense(1).cell(CellType.LSTM).hidden(32).valuesPerStep(1), 7)) {
            Scores before = model.evaluate(data.heldOut());
            model.fit(data, TrainOptions.defaults().steps(150).batch(8).window(40).adam(0.01f));
            Scores after = model.evaluate(data.heldOut());
            System.out.printf("%s: held-out MSE %.5f before training, %.5f after (MAE %.4f)%n", device.name(),
                    before.meanSquaredError(), after.meanSquaredError(), after.meanAbsoluteError());
            if (!(after.meanSquaredError() < 0.1 * before.meanSquaredError())) {
                throw new IllegalStateException("the model did not learn the wave");
            }
        }
    }
}
