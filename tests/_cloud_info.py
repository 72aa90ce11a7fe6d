"""The analog_info and noise_model_info example of aihwkit's Composer, for the cloud tests."""

ANALOG_INFO = {"output_noise_strength": 0.04, "adc": 9, "dac": 7}
NOISE_MODEL_INFO = {
    "device_id": "pcm",
    "programming_noise_scale": 1.1,
    "read_noise_scale": 1.2,
    "drift_scale": 1.3,
    "drift_compensation": True,
    "poly_first_order_coef": 1.965,
    "poly_second_order_coef": -1.1731,
    "poly_constant_coef": 0.2635,
    "drift_mean": 7.7,
    "drift_std": 8.8,
}
