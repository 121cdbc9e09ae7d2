"""The distributed-DQN replay study (``dqn_replay:`` documents): cluster, replay memory, FPGA NIC, report.

:data:`~fpgasim.study.dqn_replay.study.DQN_REPLAY_STUDY` is its registered study.
"""
