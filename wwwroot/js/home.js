import { api, ApiError, grantToken, roomApi, roomPath } from "./api.js";

const errorText = document.getElementById("home-error");
const generate = document.getElementById("generate");
const form = document.getElementById("named-room");

const tokenReady = grantToken();

function showError(error) {
  errorText.textContent = error instanceof ApiError || error instanceof Error ? error.message : String(error);
}

generate.addEventListener("click", async () => {
  generate.disabled = true;
  errorText.textContent = "";
  try {
    const token = await tokenReady;
    const { room } = await api(token, "POST", "/api/room/generate", {});
    location.assign(roomPath(room));
  } catch (error) {
    showError(error);
    generate.disabled = false;
  }
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorText.textContent = "";
  const name = form.elements.name.value.trim();
  try {
    const token = await tokenReady;
    try {
      await api(token, "GET", roomApi(name));
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) throw error;
      try {
        await api(token, "POST", "/api/room/create", { name, isTemporary: true });
      } catch (createError) {
        // Someone created it between the two calls: open it all the same.
        if (createError.name !== "RoomNameTakenException") throw createError;
      }
    }
    location.assign(roomPath(name));
  } catch (error) {
    showError(error);
  }
});
