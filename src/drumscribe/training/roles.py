"""What a rendered hit is: the roles of a drum performance, and the sample rate clips are rendered at.

Roles are finer than the model's classes (``dataset.ROLE_TO_CLASS`` maps them): side stick and the
"extra" percussion are rendered but never labelled as snare or hi-hat.
"""

SR = 22050
ROLES = [
    "kick", "side_stick", "snare", "hihat_closed", "hihat_pedal", "hihat_open",
    "tom_low", "tom_mid", "tom_high", "crash", "ride", "extra",
]
R = {name: i for i, name in enumerate(ROLES)}
HIHATS = {R["hihat_closed"], R["hihat_pedal"], R["hihat_open"]}
TOMS = [R["tom_high"], R["tom_mid"], R["tom_low"]]
