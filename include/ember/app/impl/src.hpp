// ember: the app layer's non-template code, for ember/impl/src.hpp (EMBER_SEPARATE_COMPILATION).
// app/data_layer.hpp's bodies need the data layer: they are in ember/data/impl/src.hpp.
#pragma once

#include "ember/app/detail/impl/json_path.hpp"
#include "ember/app/impl/admin.hpp"
#include "ember/app/impl/config.hpp"
#include "ember/app/impl/game_data.hpp"
#include "ember/app/impl/host.hpp"
#include "ember/app/impl/metrics.hpp"
#include "ember/app/impl/module.hpp"
#include "ember/app/impl/module_options.hpp"
