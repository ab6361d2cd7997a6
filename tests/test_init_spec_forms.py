"""The short spec forms init writes and people type: no box, tag lists, shared tags, folder and glob sources."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from kohya_prep.cli import cli
from kohya_prep.errors import SpecError
from kohya_prep.spec import load_spec
from tests.helpers import figure_image, sd_scripts_view

HEAD = """[dataset]
name = "out"
trigger = "chara"
class = "girl"
"""


def _spec(folder: Path, body: str, head: str = HEAD) -> Path:
    path = folder / "spec.toml"
    path.write_text(head + body, encoding="utf-8")
    return path


def _pictures(folder: Path, names: dict[str, tuple[int, int]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, size in names.items():
        figure_image(size).save(folder / name)


def _build(spec: Path) -> dict:
    result = CliRunner().invoke(cli, ["dataset", "build", str(spec)])
    assert result.exit_code == 0, result.output
    return sd_scripts_view(spec.parent / "out" / "train")["10_chara girl"]


def test_box_left_out_is_the_whole_image(tmp_path: Path) -> None:
    _pictures(tmp_path / "src", {"a.png": (640, 480)})
    spec = load_spec(_spec(tmp_path, '[sources]\na = "src/a.png"\n[[crops]]\nname = "whole"\nsource = "a"\n'))
    assert spec.crops[0].box.as_list() == [0, 0, 640, 480]


def test_tags_compose_trigger_dataset_source_crop_once_each(tmp_path: Path) -> None:
    _pictures(tmp_path / "src", {"a.png": (400, 400)})
    head = HEAD + 'tags = ["solo", "white background"]\n'
    body = ('[sources]\na = { path = "src/a.png", tags = ["red scarf", "Solo"] }\n'
            '[[crops]]\nname = "one"\nsource = "a"\ncaption = ["full body", "white background", "smile"]\n'
            '[[crops]]\nname = "two"\nsource = "a"\ncaption = "chara, upper body, red scarf"\n')
    view = _build(_spec(tmp_path, body, head))
    assert view["captions"]["one.png"] == "chara, solo, white background, red scarf, full body, smile"
    assert view["captions"]["two.png"] == "chara, solo, white background, red scarf, upper body"


def test_a_plain_caption_with_nothing_shared_is_kept_as_written(tmp_path: Path) -> None:
    _pictures(tmp_path / "src", {"a.png": (400, 400)})
    body = '[sources]\na = "src/a.png"\n[[crops]]\nname = "one"\nsource = "a"\ncaption = "smile, smile,  hat"\n'
    assert load_spec(_spec(tmp_path, body)).crops[0].caption == "smile, smile,  hat"


def test_a_folder_source_makes_a_crop_per_image_with_sidecar_captions(tmp_path: Path) -> None:
    _pictures(tmp_path / "raw", {"a.png": (300, 500), "b_1.jpg": (500, 300), "c.webp": (256, 256)})
    (tmp_path / "raw" / "a.txt").write_text("chara, smile\n", encoding="utf-8")
    (tmp_path / "raw" / "b_1.caption").write_bytes("\ufeffhat, coat\nsecond line\n".encode())
    (tmp_path / "raw" / "notes.md").write_text("not an image")
    body = ('[sources]\nphotos = { path = "raw", tags = ["photo"] }\n'
            '[[crops]]\nname = "c-close"\nsource = "photos/c.webp"\nbox = [0, 0, 128, 128]\ncaption = ["close-up"]\n')
    spec = load_spec(_spec(tmp_path, body))
    assert [(c.name, c.source, c.implicit) for c in spec.crops] == [
        ("c-close", "photos/c.webp", False), ("a", "photos/a.png", True), ("b_1", "photos/b_1.jpg", True)]
    view = _build(tmp_path / "spec.toml")
    assert view["captions"] == {"a.png": "chara, photo, smile", "b_1.png": "chara, photo, hat, coat",
                                "c-close.png": "chara, photo, close-up"}


def test_a_glob_source(tmp_path: Path) -> None:
    _pictures(tmp_path / "raw", {"a.jpg": (300, 300), "b.png": (300, 300)})
    _pictures(tmp_path / "raw" / "more", {"c.jpg": (300, 300)})
    spec = load_spec(_spec(tmp_path, '[sources]\nphotos = "raw/**/*.jpg"\n'))
    assert [c.source for c in spec.crops] == ["photos/a.jpg", "photos/more/c.jpg"]


def test_an_unreadable_folder_image_is_an_error_unless_excluded(tmp_path: Path) -> None:
    _pictures(tmp_path / "raw", {"a.png": (300, 300)})
    (tmp_path / "raw" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(SpecError) as caught:
        load_spec(_spec(tmp_path, '[sources]\nphotos = "raw/"\n'))
    assert "broken.png is not a readable image" in caught.value.problems[0]
    assert "status = 'excluded'" in caught.value.problems[0]
    body = '[sources]\nphotos = "raw/"\n[[crops]]\nname = "broken"\nsource = "photos/broken.png"\nstatus = "excluded"\n'
    assert [c.name for c in load_spec(_spec(tmp_path, body)).crops] == ["a"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('[sources]\na = "src/a.png"\n[[crops]]\nname = "x"\nsource = "a"\ncaption = ["a, b"]\n',
         "caption[1] = 'a, b' holds several tags; write each as its own item: 'a', 'b'"),
        ('[sources]\na = "src/a.png"\n[[crops]]\nname = "x"\nsource = "a"\ncaption = [1]\n',
         "caption[1] = 1 must be a tag in quotes"),
        ('[sources]\na = "src/a.png"\n[[crops]]\nname = "x"\nsource = "a"\ncaption = 3\n',
         "caption = 3 must be text in quotes or a list of tags"),
        ('[sources]\na = { path = "src/a.png", tags = "solo" }\n[[crops]]\nname = "x"\nsource = "a"\n',
         "source 'a': tags = 'solo' must be a list of tags in quotes"),
        ('[sources]\na = { path = "src/a.png", tag = ["x"] }\n[[crops]]\nname = "x"\nsource = "a"\n',
         "unknown key 'tag'; did you mean 'tags'?"),
        ('[sources]\nsrc = "src/"\n[[crops]]\nname = "x"\nsource = "src"\n',
         "source 'src' is a folder of images; name one of them, e.g. source = 'src/a.png'"),
        ('[sources]\nraw = "nothing/*.png"\n', "source 'raw': 'nothing/*.png' finds no images"),
        ('[sources]\na = "src/a.png"\n', "no [[crops]] found"),
    ],
    ids=["tag-with-comma", "tag-not-text", "caption-number", "tags-not-list", "source-key-typo", "folder-as-source",
         "glob-finds-nothing", "no-crops"],
)
def test_bad_new_forms_are_one_line_errors(tmp_path: Path, body: str, fragment: str) -> None:
    _pictures(tmp_path / "src", {"a.png": (300, 300)})
    spec = _spec(tmp_path, body)
    result = CliRunner().invoke(cli, ["dataset", "build", str(spec)])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
    assert fragment in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_dataset_tags_must_be_a_list(tmp_path: Path) -> None:
    _pictures(tmp_path / "src", {"a.png": (300, 300)})
    with pytest.raises(SpecError) as caught:
        load_spec(_spec(tmp_path, '[sources]\na = "src/a.png"\n[[crops]]\nname = "x"\nsource = "a"\n',
                        HEAD + 'tags = "solo, hat"\n'))
    assert caught.value.problems == ["[dataset]: tags = 'solo, hat' must be a list of tags in quotes, "
                                     "e.g. tags = ['white background', 'smile']"]


def test_a_sidecar_that_is_not_utf8_is_an_error_only_where_it_is_used(tmp_path: Path) -> None:
    _pictures(tmp_path / "raw", {"a.png": (300, 300)})
    (tmp_path / "raw" / "a.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(SpecError) as caught:
        load_spec(_spec(tmp_path, '[sources]\nphotos = "raw/"\n'))
    assert caught.value.problems == ["source 'photos': a.png: caption file a.txt is not UTF-8 text; save it as UTF-8, "
                                     "or list the image in a [[crops]] table with its own caption"]
    body = '[sources]\nphotos = "raw/"\n[[crops]]\nname = "a"\nsource = "photos/a.png"\ncaption = ["cafe"]\n'
    assert load_spec(_spec(tmp_path, body)).crops[0].caption == "cafe"


def test_folder_image_names_are_made_safe_and_unique(tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    folder.mkdir()
    for name in ("my pic.png", "my_pic.png", "a_b_c_d_e.png", "con.png"):
        Image.new("RGB", (64, 64), (200, 10, 10)).save(folder / name)
    names = [c.name for c in load_spec(_spec(tmp_path, '[sources]\nraw = "raw"\n')).crops]
    assert names == ["a-b-c-d-e", "image-con", "my-pic", "my_pic"]
