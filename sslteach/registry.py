"""The registry of the files shipped in ``data/``: their sha256, checked before every use.

The data sets come with their provenance and licences in ``data/README.md``; the results of
``python -m sslteach sweep NAME`` (``results/``) and the encoders it saves (``models/``) are added
here, with the line the command prints, when they are shipped. :func:`sslteach.data.data_file`
refuses a file that is not registered or whose digest differs.
"""
SHA256 = {
    "eval/questions-words.txt": "8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36",
    "eval/simlex999.txt": "d5e0501971478a511430ee880bd0121e94ac701ba86d90544d83e6d2ba3db05d",
    "eval/wordsim353.tsv": "f92a022fc2537793a15bc3a8c162ebcd74990e033a228bb6388cb71e4c0b1e1d",
    "images/astronaut.png": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    "images/chelsea.png": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    "images/cifar10_test_2000_jpg.zip": "a414af9e33979c1eabd487463b4c3e8379685e7043995163dd784f630d6cbc7f",
    "images/cifar10_train_10000_jpg.zip": "87b28cd8f7e58749a979993d4c27d03c55627a2041b505f69003eca0c4660fdc",
    "images/coffee.png": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    "models/simclr_encoder.pt": "42c69bf07ef0c4f571289d2af5a20d5c8bec0eecd8c99d4043db3a51d548d333",
    "images/mnist_5k.csv.gz": "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
    "text/enwiki_mini.txt.gz": "106986f21974e9ba78f87f3a024ec603ecafd75fab78612238e43592d17e98ec",
    "text/gutenberg17_tokenized.txt.gz": "6e91594258a132af4167dd13b85fac36ccc48d9629eb241d0fb3adec18414d02",
    # NLTK corpora for notebook 09 (read by sslteach.textdata)
    "text/nltk/brown.zip": "9b275f9b3b95d7bd66ccfb7cd259f445a13bbe5d1f4107aba09fd3e8364bafa6",
    "text/nltk/senseval.zip": "fbcb658b562969e47a19a45e04c452d874755d157db936d815ca391ca88bfdea",
    "text/nltk/sentence_polarity.zip": "6e1ed4405b65c7eabf1d199a7f7c437091ac21da0ea7467b410a74062574566b",
    "text/nltk/state_union.zip": "366c1dc82b2abf896f42b2ec50ba802a0141a29f75d29ca48a7a243ce5bfbe8d",
    "text/nltk/subjectivity.zip": "741f3371e1a4375051b874fd82fd55857b90975473c91c19a3101cbe17fc4d8c",
    "results/simclr.json": "f087c79062ead2beb0479601608fdb1a2ed1b62d5dd2dd21c224b3dcee80148d",
    "results/autoencoders.json": "e394786d93d53178eb258a4d0a058b0481c19c13b35d7e566e8ab4fe8cf17d8d",
    "results/rotnet.json": "ab79b637f40c4d422b8614835594c92cd8a64777fe7296f475eb720ddc59b6d0",
    "results/simclr-ablations.json": "c1e240d4eee2b9e54059c8257e1b9e1fdc8d7b7b39cb147140608e45fd515320",
    "results/finetune-curves.json": "a7bec23202ed8b8b4968d2806a13d5f7e0bf8b514e817aa492b8ffce06b763c0",
    "results/finetune-steps.json": "277baadc0899c2a7810b4f5dec00172b351d22449717d495eb5c7d6c8b242681",
    "results/finetune-choices.json": "45caaaa2ea5ae0c8c407e12891e01ef4e339a6a199bda87a62b85f79ffb71a22",
    "results/word2vec-gensim.json": "f3e223d0b1f539af0cc473d1ce60d6da28476b381047a6688c25fc1ef9c3a4dd",
    "results/word2vec-corpus.json": "1c6253396b5c04b1c7b31167bf140dd22349e72056f47131844ba02394094d8d",
    "results/moco-queue.json": "10d4e6338983f3e4241ecaf247e448b99179149617e5ffa107b022a46b96bb0e",
    "results/simsiam-collapse.json": "c7e20f8d2cd936e6c9844c6ba6581b58c92a6b01c16edb646742d157c060956c",
    "results/collapse-grid.json": "c42aeb3247b82fc07914e8e9bbc0403b2fe9c97f48fc3a69965c6e9fd4df4e8c",
    "results/equal-budget.json": "94fa3e3507fad470cee25ed104b236d620bd29007c659a2817e7738441bfafae",
    "models/simclr_equal_budget.pt": "2d7368e257ac9d2cbd13cafe383dfe846dbac9654b0e3a20863513b752b9a1f6",
    "models/moco_equal_budget.pt": "f1366a565a6c74144f0c2e79c1f8a12e9dbea6afbfb8e8ec4e5be1a0bcf10516",
    "models/byol_equal_budget.pt": "055943bacaf8838561a0a60ffb0ee4aadfb3536da63f3eea2919c8f69abaeb4e",
    "models/simsiam_equal_budget.pt": "8cf0d711fb5e6dc3d02563f3d16710cf34b7da00a65e162e967b1408a1cddf60",
    "models/barlow_equal_budget.pt": "39402f77bc3662f14f74a27616a9820455235afe0a58e21695a7667dc5b05f4c",
}
