"""Decoding a real camera mp4 (tests/fixtures/real_video: H.264 High, B-frames, 100 frames at 12 fps) the
way the RoCoG-v2 builder does, an edit-listed copy of it, a truncated one, and sampling its frames."""

import av
import numpy as np
import pytest
import rocog_release as release

from gesture_jax.data import pipeline, sampling, transforms
from gesture_jax.data.frames import decode_frames
from gesture_jax.data.spec import VideoSpec
from gesture_jax.data.transforms import resize_short_side
from tfds_builders.rocog_v2 import video

SHORT_SIDE = 64


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """Every frame in presentation order, decoded independently of the builder, resized the same way."""
    with av.open(str(release.REAL_VIDEO)) as container:
        stream = container.streams.video[0]
        decode_order = [p.pts for p in container.demux(stream) if p.size]
    assert decode_order != sorted(decode_order)  # the file really has B-frames (reordered packets)
    with av.open(str(release.REAL_VIDEO)) as container:
        frames = [(f.pts, f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    assert [pts for pts, _ in frames] == sorted(decode_order)
    return resize_short_side(np.stack([f for _, f in frames]), SHORT_SIDE)


def _closest(decoded: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """For each decoded (JPEG) frame, the index of the reference frame it is closest to."""
    diff = np.abs(decoded[:, None].astype(np.float32) - reference[None].astype(np.float32))
    return diff.mean(axis=(2, 3, 4)).argmin(axis=1)


def test_real_mp4_decodes_every_frame_in_order(reference):
    result = video.load(video.Task(str(release.REAL_VIDEO), SHORT_SIDE))
    assert result.error == ""
    f = result.fields
    assert (f["num_frames"], f["fps"], f["orig_height"], f["orig_width"]) == (100, 12.0, 512, 512)
    assert (f["height"], f["width"], f["frames_hidden"]) == (SHORT_SIDE, SHORT_SIDE, 0)
    frames = decode_frames(f["frames"])
    np.testing.assert_array_equal(_closest(frames, reference), np.arange(100))
    assert np.abs(frames.astype(np.float32) - reference).mean() < 6  # JPEG q90, chroma halved, at 64²


@pytest.mark.slow
def test_edit_list_shortfall_is_tolerated_and_counted(reference, tmp_path):
    edited = tmp_path / "edit_list.mp4"
    release.remux_with_edit_list(release.REAL_VIDEO, edited, hidden=2)
    with av.open(str(edited)) as container:
        assert container.streams.video[0].frames == 100  # the container still lists every sample
    f = video.load(video.Task(str(edited), SHORT_SIDE)).fields
    assert (f["num_frames"], f["frames_hidden"]) == (98, 2)
    np.testing.assert_array_equal(_closest(decode_frames(f["frames"]), reference), np.arange(2, 100))


def test_real_truncation_still_fails(tmp_path):
    """Index first (faststart), then the file cut after its 50th packet: frames are missing, not hidden."""
    whole, cut = tmp_path / "faststart.mp4", tmp_path / "cut.mp4"
    with (
        av.open(str(release.REAL_VIDEO)) as inp,
        av.open(str(whole), "w", options={"movflags": "faststart"}) as out,
    ):
        stream = inp.streams.video[0]
        template = out.add_stream_from_template(stream)
        for packet in inp.demux(stream):
            if packet.dts is not None:
                packet.stream = template
                out.mux(packet)
    assert video.load(video.Task(str(whole), 32)).fields["num_frames"] == 100
    with av.open(str(whole)) as container:
        offsets = [p.pos for p in container.demux(container.streams.video[0]) if p.size]
    cut.write_bytes(whole.read_bytes()[: offsets[50]])
    result = video.load(video.Task(str(cut), 32))
    assert (
        result.fields is None and "truncated: decoded" in result.error and "of the 100 frames" in result.error
    )


@pytest.mark.parametrize(
    "spec",
    [
        VideoSpec(
            num_frames=8, sampler="umt_sparse_test", num_clips=4, crop="three", resize_size=48, crop_size=48
        ),
        VideoSpec(
            num_frames=8, sampler="viclip_middle", resize="squash", resize_size=40, crop="none", crop_size=40
        ),
    ],
    ids=["umt_4x3", "viclip"],
)
def test_sampling_the_real_mp4(reference, spec):
    """The pipeline's views of the decoded video hold the frames each sampler picks, in order."""
    f = video.load(video.Task(str(release.REAL_VIDEO), SHORT_SIDE)).fields
    record = {"frames": f["frames"], "path": b"real.mp4", "label": 0}
    views = pipeline.clip_views(record, spec)
    assert views.shape == pipeline.view_shape(spec)
    per_clip = [
        sampling.frame_indices(spec.sampler, 100, **spec.sampler_kwargs(c)) for c in range(spec.num_clips)
    ]
    assert len({tuple(i) for i in per_clip}) == spec.num_clips  # clips differ on a 100-frame video
    # Every reference frame under the same resize and crops: [crops, 100, S, S, 3].
    ref_views = transforms.spatial_views(
        reference, resize=spec.resize, resize_size=spec.resize_size, crop=spec.crop, crop_size=spec.crop_size
    )
    for clip, indices in enumerate(per_clip):
        for crop in range(spec.num_crops):
            view = views[clip * spec.num_crops + crop]
            np.testing.assert_array_equal(_closest(view, ref_views[crop]), indices)
