"""Inter-layer redistribution: hand-computed flows between boards."""

from fpgasim.mapping import Partition
from fpgasim.nn import Conv2d, Pool, PoolKind
from fpgasim.mapping.parts import board_parts
from fpgasim.mapping.redistribute import Region, needed_input, through_pools, transfers

A = Conv2d(name="a", in_channels=3, out_channels=4, in_h=8, in_w=8, kernel=3, padding=1)
B = Conv2d(name="b", in_channels=4, out_channels=6, in_h=8, in_w=8, kernel=3, padding=1)


def test_same_row_split_exchanges_only_the_halo_rows():
    rows = Partition(pr=2)
    flows = transfers(board_parts(A, 1, rows), B, board_parts(B, 1, rows), [])
    # board 0 computes rows 0..3 of B and needs input row 4 (halo); board 1 needs row 3
    assert flows == {(0, 1): 4 * 1 * 8, (1, 0): 4 * 1 * 8}


def test_row_split_to_channel_split_moves_the_other_half():
    flows = transfers(board_parts(A, 1, Partition(pr=2)), B, board_parts(B, 1, Partition(pm=2)), [])
    assert flows == {(0, 1): 4 * 4 * 8, (1, 0): 4 * 4 * 8}


def test_nothing_moves_when_each_board_holds_its_input():
    batch = Partition(pb=2)
    assert transfers(board_parts(A, 2, batch), B, board_parts(B, 2, batch), []) == {}


def test_regions_map_back_through_a_pool_and_groups_limit_channels():
    pool = Pool(name="p", kind=PoolKind.MAX, channels=4, in_h=8, in_w=8, kernel=2, stride=2)
    region = Region((0, 1), (0, 4), (1, 3), (0, 4))
    assert through_pools(region, [pool]) == Region((0, 1), (0, 4), (2, 6), (0, 8))
    grouped = Conv2d(name="g", in_channels=4, out_channels=4, in_h=4, in_w=4, kernel=1, groups=2)
    part = board_parts(grouped, 1, Partition(pm=2))[1]
    assert needed_input(grouped, part).channels == (2, 4)
    assert Region((0, 1), (0, 2), (0, 2), (0, 2)).intersect(Region((0, 1), (2, 4), (0, 2), (0, 2))).elems == 0
